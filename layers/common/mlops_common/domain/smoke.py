"""A real InvokeEndpoint with rows of the model's own training data."""

import csv
import io
import json
import math

from ..adapters.endpoints import Endpoints
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store, split_s3_uri
from ..errors import ModelPackageNotFound, SmokeTestFailed
from ..models import DeploymentTarget, SmokeTestOutput


def smoke_test(
    plan: DeploymentTarget,
    rows: int,
    label: str,
    registry: ModelRegistry,
    store: S3Store,
    endpoints: Endpoints,
) -> SmokeTestOutput:
    package = registry.describe(plan.model_package_arn)
    if package is None:
        raise ModelPackageNotFound(plan.model_package_arn)
    lineage = package.get("CustomerMetadataProperties") or {}
    if "dataset_uri" not in lineage:
        raise SmokeTestFailed(f"{plan.model_package_arn} has no dataset lineage to test with")
    version = lineage.get("dataset_version", "")
    bucket, key = split_s3_uri(lineage["dataset_uri"])
    if "dataset_parts_manifest" in lineage:  # a dataset in parts: rows of its first part
        first = store.read_json(lineage["dataset_parts_manifest"])["parts"][0]
        key, version = first["key"], first["version_id"] or ""
    data = store.read_bytes(bucket, key, None if version.startswith("etag:") else version or None)
    body, rows = _feature_rows(data, label, rows)
    try:
        raw, latency_ms = endpoints.invoke(plan.endpoint_name, body.encode(), "text/csv")
        predictions = json.loads(raw)["predictions"]
    except Exception as exc:  # any failure to get valid predictions fails the smoke test
        raise SmokeTestFailed(f"{plan.endpoint_name}: {exc}") from exc
    if (
        not isinstance(predictions, list)
        or len(predictions) != rows
        or not all(_is_answer(p) for p in predictions)
    ):
        raise SmokeTestFailed(f"{plan.endpoint_name}: sent {rows} rows, got {predictions!r:.300}")
    return SmokeTestOutput(
        endpoint_name=plan.endpoint_name,
        rows=rows,
        predictions=predictions,
        latency_ms=round(latency_ms, 2),
    )


def _is_answer(prediction: object) -> bool:
    """One row's answer as ml/inference.py documents it: a label (0/1 for binary, the class
    for multiclass) or a finite value (regression)."""
    if not isinstance(prediction, dict):
        return False
    if "label" in prediction:
        label = prediction["label"]
        return isinstance(label, str | int) and not isinstance(label, bool) and label != ""
    value = prediction.get("value")
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _feature_rows(data: bytes, label: str, rows: int) -> tuple[str, int]:
    """The first rows without the label column, as the endpoint expects them (no header).
    Header names are stripped as by the dataset contract and the ML scripts."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = [name.strip() for name in next(reader, [])]
    if label not in header:
        raise SmokeTestFailed(f"the model's dataset has no label column '{label}'")
    label_at = header.index(label)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    sent = 0
    for row in reader:
        if sent >= rows:
            break
        if not any(cell.strip() for cell in row):
            continue
        writer.writerow(v for i, v in enumerate(row) if i != label_at)
        sent += 1
    if sent == 0:
        raise SmokeTestFailed("the model's dataset has no rows to send")
    return out.getvalue(), sent
