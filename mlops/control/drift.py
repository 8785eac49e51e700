"""Drift checks from the ledger (`drift#<endpoint>`, one audit entry per DriftCheck execution,
domain.drift_verdict) and their reports in S3 (ml/drift.py's drift.json), newest first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlops.control.plane import ControlPlane


def _plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) as ints or floats, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def checks(plane: ControlPlane, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` drift checks with documented keys."""
    from mlops_common.domain.drift_plan import drift_ledger_key

    found = []
    for item in plane.ledger.recent(drift_ledger_key(plane.endpoint_name), limit):
        entry = _plain(item)
        found.append(
            {
                "when": entry["sk"].split("#")[1],
                "outcome": entry.get("outcome"),
                "version": entry.get("version"),
                "rows": entry.get("rows", 0),
                "max_psi": entry.get("max_psi"),
                "max_ks": entry.get("max_ks"),
                "drifting": entry.get("drifting", []),
                "summary": entry.get("summary"),
                "window": {"start": entry.get("window_start"), "end": entry.get("window_end")},
                "report_uri": entry.get("report_uri"),
                "retrain_request_id": entry.get("retrain_request_id"),
                "execution": entry.get("execution_arn"),
            }
        )
    return found


def report(plane: ControlPlane, uri: str) -> dict[str, Any]:
    """A drift report (drift.json) as the processing job wrote it."""
    from mlops_common.adapters.s3 import S3Store

    return S3Store(plane.client("s3")).read_json(uri)
