"""SageMaker scikit-learn serving handlers: model_fn, input_fn, predict_fn, output_fn.

Requests: text/csv (rows of feature values, no header) or application/json
({"instances": [[...], ...]} or {"instances": [{feature: value, ...}, ...]}).
Responses: application/json {"predictions": [{"label": 0|1, "probability": p}]} where p is the
probability of label 1 (malignant), or text/csv with one label per line.
Bad input raises ValueError with a message naming the problem; the serving stack turns it into
a 4xx response.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from typing import Any, Union

import numpy as np

try:  # imported as part of a package (ml.inference: tests, the twin)
    from . import common
except ImportError:  # the SageMaker container imports this file with its directory on sys.path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import common

CSV = "text/csv"
JSON = "application/json"
SUPPORTED = (CSV, JSON)
# What input_fn hands to predict_fn: a row matrix, or records that still need the model's
# feature order (input_fn is not given the model, so reordering happens in predict_fn).
ParsedInput = Union[np.ndarray, list]  # noqa: UP007 (runtime alias; container Python < 3.10)


def model_fn(model_dir: str) -> common.LoadedModel:
    """model_dir holds the extracted model.tar.gz (model.joblib + metadata.json)."""
    return common.load_model(model_dir)


def _media_type(content_type: str | None, default: str) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    if not content_type:
        return default
    return content_type.split(";", 1)[0].strip().lower()


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return number


def _matrix(rows: list[list[Any]]) -> np.ndarray:
    if not rows:
        raise ValueError("request has no rows")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"rows have different numbers of values: {sorted(widths)}")
    values = [
        [_number(value, f"row {r + 1}, value {c + 1}") for c, value in enumerate(row)]
        for r, row in enumerate(rows)
    ]
    return np.asarray(values, dtype=np.float64)


def _parse_csv(body: str) -> np.ndarray:
    rows = [row for row in csv.reader(io.StringIO(body)) if any(cell.strip() for cell in row)]
    return _matrix([[cell.strip() for cell in row] for row in rows])


def _parse_json(body: str) -> ParsedInput:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise ValueError('JSON request must be an object with an "instances" list')
    instances = payload["instances"]
    if not instances:
        raise ValueError("request has no rows")
    if all(isinstance(item, dict) for item in instances):
        return instances
    if all(isinstance(item, list) for item in instances):
        return _matrix(instances)
    raise ValueError('"instances" must be all lists of values or all objects keyed by feature')


def input_fn(request_body: str | bytes, request_content_type: str) -> ParsedInput:
    media_type = _media_type(request_content_type, default=JSON)
    if media_type not in SUPPORTED:
        raise ValueError(
            f"unsupported content type {request_content_type!r}; use one of {list(SUPPORTED)}"
        )
    if isinstance(request_body, (bytes, bytearray)):
        request_body = bytes(request_body).decode("utf-8")
    return _parse_csv(request_body) if media_type == CSV else _parse_json(request_body)


def _records_to_matrix(records: list[dict[str, Any]], feature_names: list[str]) -> np.ndarray:
    expected = set(feature_names)
    rows = []
    for number, record in enumerate(records, start=1):
        missing = [name for name in feature_names if name not in record]
        unknown = sorted(set(record) - expected)
        if missing or unknown:
            raise ValueError(f"instance {number}: missing features {missing}, unknown {unknown}")
        rows.append([record[name] for name in feature_names])
    return _matrix(rows)


def predict_fn(input_data: ParsedInput, model: common.LoadedModel) -> list[dict[str, Any]]:
    feature_names = model.feature_names
    if isinstance(input_data, list):
        features = _records_to_matrix(input_data, feature_names)
    else:
        features = np.asarray(input_data, dtype=np.float64)
        if features.ndim == 1:
            features = features.reshape(1, -1)
    if features.shape[1] != len(feature_names):
        raise ValueError(
            f"wrong number of features: expected {len(feature_names)}, got {features.shape[1]}"
        )
    labels = model.estimator.predict(features)
    probabilities = common.positive_probability(model.estimator, features)
    return [
        {"label": int(label), "probability": float(probability)}
        for label, probability in zip(labels, probabilities)  # noqa: B905 (container's py3.8)
    ]


def output_fn(prediction: list[dict[str, Any]], accept: str | None) -> str:
    # Accept may list several types ("text/csv, application/json"); the first supported wins.
    candidates = [_media_type(part, default=JSON) for part in (accept or JSON).split(",")]
    for media_type in candidates:
        if media_type in ("*/*", JSON):
            return json.dumps({"predictions": prediction})
        if media_type == CSV:
            return "".join(f"{item['label']}\n" for item in prediction)
    raise ValueError(f"unsupported accept type {accept!r}; use one of {list(SUPPORTED)}")
