"""SageMaker scikit-learn serving handlers: model_fn, input_fn, predict_fn, output_fn.

Requests: text/csv (rows of feature values in the model's feature order, no header) or
application/json ({"instances": [[...], ...]} or {"instances": [{feature: value, ...}, ...]}).
Responses, per row (application/json {"predictions": [...]}, or text/csv one answer per line):
- binary classification: {"label": 0|1, "probability": p}, label 1 is the stack's PositiveLabel
  and p its probability;
- multiclass classification: {"label": class, "probabilities": {class: p, ...}}, classes as
  written in the training data;
- regression: {"value": v}.

It answers like a service: a request it cannot serve gets a 4xx with one JSON line,
{"error": ..., "message": ...}, saying what was expected (400 for the wrong number or names of
features or a value that is not a number, 415 for a content type, 406 for an accept type), and
an unexpected failure a 500 with one line; a stack trace goes to the log, never to the caller.
The serving stack turns an exception into an error response that carries the trace, so these
handlers do not raise for a request: input_fn and predict_fn pass a `Rejection` on and output_fn
returns it as a response with its status (the container's worker.Response, a Flask response).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import traceback
from typing import Any, Union

import numpy as np

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:  # the serving stack imports this module from the code directory
    sys.path.insert(0, _here)

import common  # noqa: E402
from problems import BINARY, MULTICLASS, REGRESSION  # noqa: E402

CSV = "text/csv"
JSON = "application/json"
SUPPORTED = (CSV, JSON)
# What input_fn hands to predict_fn: rows of cells, records keyed by feature, or a Rejection.
ParsedInput = Union[list, "Rejection"]  # noqa: UP007 (runtime alias; container Python < 3.10)


class Rejection:
    """An answer that is not a prediction: an HTTP status and one line for the caller."""

    def __init__(self, status: int, error: str, message: str) -> None:
        self.status, self.error, self.message = status, error, " ".join(message.split())

    def body(self) -> str:
        return json.dumps({"error": self.error, "message": self.message})

    def __repr__(self) -> str:
        return f"Rejection({self.status}, {self.message!r})"


class _Invalid(ValueError):
    """A request that breaks the contract: 400 with this message."""


def model_fn(model_dir: str) -> common.LoadedModel:
    """model_dir holds the extracted model.tar.gz (model.joblib + metadata.json)."""
    return common.load_model(model_dir)


def _media_type(content_type: str | None, default: str) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    if not content_type:
        return default
    return content_type.split(";", 1)[0].strip().lower()


def input_fn(request_body: str | bytes, request_content_type: str) -> ParsedInput:
    media_type = _media_type(request_content_type, default=JSON)
    if media_type not in SUPPORTED:
        return Rejection(415, "UnsupportedMediaType",
                         f"content type {request_content_type!r} is not served; send "
                         f"{' or '.join(SUPPORTED)}")  # fmt: skip
    try:
        if isinstance(request_body, (bytes, bytearray)):
            request_body = bytes(request_body).decode("utf-8")
        return _parse_csv(request_body) if media_type == CSV else _parse_json(request_body)
    except (_Invalid, UnicodeDecodeError) as exc:
        return Rejection(400, "InvalidInput", str(exc))


def _parse_csv(body: str) -> list:
    rows = [row for row in csv.reader(io.StringIO(body)) if any(cell.strip() for cell in row)]
    if not rows:
        raise _Invalid("the request has no rows")
    return [[cell.strip() for cell in row] for row in rows]


def _parse_json(body: str) -> list:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise _Invalid(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise _Invalid('a JSON request is an object with an "instances" list')
    instances = payload["instances"]
    if not instances:
        raise _Invalid("the request has no rows")
    if all(isinstance(item, dict) for item in instances) or all(
        isinstance(item, list) for item in instances
    ):
        return instances
    raise _Invalid('"instances" must be all lists of values or all objects keyed by feature')


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or value is None:
        raise _Invalid(f"{where}: expected a number, got {json.dumps(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _Invalid(f"{where}: expected a finite number, got {value!r}")
    return number


def _expected(names: list[str]) -> str:
    return f"{len(names)} features in this order: {', '.join(names)}"


def _matrix(rows: list, names: list[str]) -> np.ndarray:
    """Feature rows in the model's order: lists by position, records by name."""
    out = []
    for r, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            missing = [n for n in names if n not in row]
            unknown = sorted(set(row) - set(names))
            if missing or unknown:
                raise _Invalid(f"instance {r}: missing features {missing}, unknown features "
                               f"{unknown}; expected {_expected(names)}")  # fmt: skip
            row = [row[n] for n in names]
        if len(row) != len(names):
            raise _Invalid(f"row {r} has {len(row)} values; expected {_expected(names)}")
        out.append([_number(v, f"row {r}, value {c} ({names[c - 1]})")
                    for c, v in enumerate(row, start=1)])  # fmt: skip
    return np.asarray(out, dtype=np.float64)


def predict_fn(input_data: ParsedInput, model: common.LoadedModel) -> Any:
    if isinstance(input_data, Rejection):
        return input_data
    try:
        features = _matrix(input_data, model.feature_names)
    except _Invalid as exc:
        return Rejection(400, "InvalidInput", str(exc))
    try:
        return _answers(model, features)
    except Exception as exc:  # a fault of the model, not of the request: logged, not returned
        traceback.print_exc()
        return Rejection(
            500, "PredictionFailed", f"the model could not answer ({type(exc).__name__})"
        )


def _answers(model: common.LoadedModel, features: np.ndarray) -> list[dict[str, Any]]:
    encoding = model.encoding
    found = common.predict(model.estimator, encoding.problem_type, features, len(encoding.classes))
    if encoding.problem_type == REGRESSION:
        return [{"value": float(v)} for v in found.targets]
    if encoding.problem_type == BINARY:
        return [{"label": int(t), "probability": float(p)}
                for t, p in zip(found.targets, found.positive_probability)]  # noqa: B905 # fmt: skip
    assert encoding.problem_type == MULTICLASS and found.class_probabilities is not None
    return [
        {"label": encoding.decode(t),
         "probabilities": {name: float(p) for name, p in zip(encoding.classes, row)}}  # noqa: B905
        for t, row in zip(found.targets, found.class_probabilities)  # noqa: B905
    ]  # fmt: skip


def _response(body: str, status: int, content_type: str) -> Any:
    """A response with a status: the container's own response class where it exists (what its
    default output_fn returns), else the werkzeug response it is built on."""
    try:
        from sagemaker_containers.beta.framework import worker

        return worker.Response(response=body, status=status, mimetype=content_type)
    except ImportError:
        from werkzeug.wrappers import Response

        return Response(body, status=status, mimetype=content_type)


def output_fn(prediction: Any, accept: str | None) -> Any:
    if isinstance(prediction, Rejection):
        print(f"request refused ({prediction.status}): {prediction.message}", file=sys.stderr)
        return _response(prediction.body(), prediction.status, JSON)
    # Accept may list several types ("text/csv, application/json"); the first supported wins.
    for media_type in [_media_type(part, default=JSON) for part in (accept or JSON).split(",")]:
        if media_type in ("*/*", JSON):
            return json.dumps({"predictions": prediction}), JSON
        if media_type == CSV:
            return "".join(f"{_first(item)}\n" for item in prediction), CSV
    refused = Rejection(406, "NotAcceptable", f"accept type {accept!r} is not served; ask for "
                        f"{' or '.join(SUPPORTED)}")  # fmt: skip
    return output_fn(refused, JSON)


def _first(item: dict[str, Any]) -> Any:
    """The CSV answer of a row: its label, or its value."""
    return item["label"] if "label" in item else item["value"]
