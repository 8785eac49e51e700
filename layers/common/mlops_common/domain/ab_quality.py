"""Quality of the variants of an A/B test, where ground truth is available.

Callers pass `InferenceId` to InvokeEndpoint; data capture records it as
`eventMetadata.inferenceId` ("Capture data from real-time endpoint", SageMaker developer guide).
Users upload the true labels later under `s3://<artifacts>/ab-labels/<endpoint>/`, as JSON
Lines (`{"inference_id": ..., "label": ...}`) or CSV (`inference_id,label`, a header line
allowed). Each variant's captured answers are joined with the labels on the inference id; a
labelled request must be one row (its answer one prediction). The metric is the problem
type's: accuracy for classification (labels read as the training jobs read them, see
domain.labels), mean absolute error for regression.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

from ..adapters.s3 import S3Store, split_s3_uri
from .labels import canonical_label
from .problem import BINARY, REGRESSION

LABELS_PREFIX = "ab-labels"
#: Fewest labelled requests per variant before quality takes part in the decision.
MIN_LABELLED = 10
#: The standard normal quantile of 0.95: a one-sided 95 % bound (normal approximation).
ONE_SIDED_95 = 1.6449


def labels_prefix(endpoint: str) -> str:
    return f"{LABELS_PREFIX}/{endpoint}/"


def read_labels(store: S3Store, bucket: str, endpoint: str) -> dict[str, str]:
    """inference id -> label, from every file under the endpoint's labels prefix (a later
    file's label for the same id wins: files are read in key order)."""
    labels: dict[str, str] = {}
    for key in sorted(store.list_keys(bucket, labels_prefix(endpoint))):
        labels.update(parse_labels(store.read_bytes(bucket, key).decode("utf-8")))
    return labels


def parse_labels(text: str) -> dict[str, str]:
    """JSON Lines or CSV `inference_id,label`; lines that name no id are skipped."""
    labels: dict[str, str] = {}
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for line in text.splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("inference_id") not in (None, "") and "label" in record:
                    labels[str(record["inference_id"])] = str(record["label"])
        return labels
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0].strip() and row[0].strip().lower() != "inference_id":
            labels[row[0].strip()] = row[1].strip()
    return labels


def captured_predictions(store: S3Store, capture_uri: str, endpoint: str) -> dict[str, dict]:
    """variant -> {inference id: the one prediction of a one-row request}, from the capture
    files of the test (`<capture uri>/<endpoint>/<variant>/...`)."""
    found: dict[str, dict] = {}
    for variant, record in capture_records(store, capture_uri, endpoint):
        inference_id = record.get("eventMetadata", {}).get("inferenceId")
        output = record.get("captureData", {}).get("endpointOutput")
        prediction = _one_prediction(output) if inference_id and output else None
        if prediction is not None:
            found.setdefault(variant, {})[inference_id] = prediction
    return found


def capture_records(
    store: S3Store, capture_uri: str, endpoint: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(variant, record) of every data-capture JSON line under
    `<capture uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/...` (SageMaker's layout)."""
    bucket, prefix = split_s3_uri(capture_uri.rstrip("/") + f"/{endpoint}/")
    for key in store.list_keys(bucket, prefix):
        variant = key[len(prefix) :].split("/", 1)[0]
        for line in store.read_bytes(bucket, key).decode().splitlines():
            if line.strip():
                yield variant, json.loads(line)


def quality(
    predictions: dict[str, Any], labels: dict[str, str], problem_type: str, positive: str
) -> tuple[int, float | None, float | None]:
    """(labelled requests, accuracy or MAE, its standard error); None below MIN_LABELLED.

    The standard error is the binomial one for an accuracy, sqrt(p(1 - p) / n), and the
    sample standard deviation of the absolute errors over sqrt(n) for an MAE."""
    joined = [(predictions[i], labels[i]) for i in predictions if i in labels]
    n = len(joined)
    if n < MIN_LABELLED:
        return n, None, None
    if problem_type == REGRESSION:
        errors = [abs(float(p) - float(label)) for p, label in joined]
        mae = sum(errors) / n
        variance = sum((e - mae) ** 2 for e in errors) / (n - 1)
        return n, mae, math.sqrt(variance / n)
    right = sum(_same_class(p, label, problem_type, positive) for p, label in joined)
    accuracy = right / n
    return n, accuracy, math.sqrt(accuracy * (1 - accuracy) / n)


def worse_beyond_doubt(
    gain: float, live_error: float, candidate_error: float, floor: float
) -> bool:
    """True when even the upper end of the one-sided 95 % confidence interval of the
    candidate's advantage is below `floor`: the two variants answered different requests, so
    an equal model's measured advantage scatters around 0 and a plain `gain < floor` would stop
    about half of the equal candidates tested with floor 0."""
    spread = math.sqrt(live_error**2 + candidate_error**2)
    return gain + ONE_SIDED_95 * spread < floor


def metric_name(problem_type: str) -> str:
    return "mae" if problem_type == REGRESSION else "accuracy"


def advantage(problem_type: str, live: float, candidate: float) -> float:
    """How much better the candidate is, in the metric's units (MAE: lower is better)."""
    return live - candidate if problem_type == REGRESSION else candidate - live


def _same_class(prediction: Any, label: str, problem_type: str, positive: str) -> bool:
    if problem_type == BINARY:  # the model answers 1 for PositiveLabel (ml/inference.py)
        truth = canonical_label(label).casefold() == canonical_label(positive).casefold()
        return canonical_label(str(prediction)) == ("1" if truth else "0")
    return canonical_label(str(prediction)) == canonical_label(label)


def _one_prediction(output: dict[str, Any]) -> Any:
    try:
        data = output["data"]
        if output.get("encoding") == "BASE64":
            data = base64.b64decode(data).decode()
        if output.get("observedContentType", "").startswith("text/csv"):
            rows = [line for line in data.splitlines() if line.strip()]
            return rows[0].strip() if len(rows) == 1 else None
        predictions = json.loads(data)["predictions"]
        if len(predictions) != 1:
            return None
        item = predictions[0]
        return item["label"] if "label" in item else item["value"]
    except (KeyError, TypeError, ValueError):
        return None
