"""SageMaker Processing script: compare the endpoint's captured traffic with the live model's
training baseline (baseline.py) and write a drift report.

Inputs: <baseline-dir>/baseline.json; every *.jsonl under <capture-dir>, in SageMaker's data
capture format (SageMaker developer guide, "Capture data from real-time endpoint": one JSON line
per request, captureData.endpointInput / endpointOutput {observedContentType, mode, data,
encoding CSV | JSON | BASE64}, eventMetadata {eventId, inferenceTime, inferenceId},
eventVersion). Only records whose inferenceTime is in [window-start, window-end) count.

Request bodies are read the way inference.py serves them: text/csv rows in feature order, or
application/json {"instances": [[...]] | [{feature: value}]}. A cell that is empty or not a
finite number is "missing"; a number outside the training [min, max] is "out of range".

Writes <output-dir>/drift.json: rows, the window, per feature PSI and KS (of its present
values) and its missing and out-of-range shares, the shares of rows with any missing or
out-of-range value, the prediction distribution and its PSI. Thresholds are not applied here:
the control plane decides (domain.drift), so the same report can be judged again.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from baseline import bin_shares, category_shares, ks_statistic, prediction_psi, psi
from common import BASELINE_FILENAME, write_json

PROCESSING = Path("/opt/ml/processing")
REPORT_FILENAME = "drift.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    add = parser.add_argument
    add("--baseline-dir", type=Path, default=PROCESSING / "input" / "baseline")
    add("--capture-dir", type=Path, default=PROCESSING / "input" / "capture")
    add("--output-dir", type=Path, default=PROCESSING / "report")
    add("--window-start", required=True)
    add("--window-end", required=True)
    return parser.parse_args(argv)


def parse_time(text: str) -> datetime:
    """ISO 8601 with Z or an offset; naive times are UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(payload: dict[str, Any]) -> str:
    data = payload.get("data", "")
    if payload.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8", errors="replace")
    return data


def _media(payload: dict[str, Any]) -> str:
    return (payload.get("observedContentType") or "").split(";", 1)[0].strip().lower()


def _cell(value: Any) -> float:
    """A feature value, NaN when it is missing or not a finite number."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def request_rows(payload: dict[str, Any], names: list[str]) -> list[list[float]]:
    """The feature rows of one captured request (NaN for a missing or unreadable cell)."""
    text = _text(payload)
    if _media(payload) == "text/csv":
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
        return [[_cell(r[i]) if i < len(r) else math.nan for i in range(len(names))] for r in rows]
    try:
        instances = json.loads(text).get("instances") or []
    except (ValueError, AttributeError):
        return []
    out = []
    for item in instances:
        if isinstance(item, dict):
            out.append([_cell(item.get(name)) for name in names])
        elif isinstance(item, list):
            out.append([_cell(item[i]) if i < len(item) else math.nan for i in range(len(names))])
    return out


def answers(payload: dict[str, Any]) -> list[Any]:
    """What the endpoint answered per row: the label (classification) or the value."""
    text = _text(payload)
    if _media(payload) == "text/csv":
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        predictions = json.loads(text).get("predictions") or []
    except (ValueError, AttributeError):
        return []
    return [p.get("label", p.get("value")) for p in predictions if isinstance(p, dict)]


def read_capture(directory: Path, start: datetime, end: datetime, names: list[str]) -> tuple:
    """(feature rows, answers, requests) of the records in [start, end)."""
    rows: list[list[float]] = []
    found: list[Any] = []
    requests = 0
    for path in sorted(directory.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            when = parse_time(record["eventMetadata"]["inferenceTime"])
            if not start <= when < end:
                continue
            data = record.get("captureData") or {}
            if "endpointInput" not in data:
                continue
            requests += 1
            rows.extend(request_rows(data["endpointInput"], names))
            if "endpointOutput" in data:
                found.extend(answers(data["endpointOutput"]))
    return rows, found, requests


def feature_figures(values: np.ndarray, summary: dict[str, Any]) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    outside = (present < summary["min"]) | (present > summary["max"])
    total = max(len(values), 1)
    return {
        "psi": psi(summary["shares"], bin_shares(present, summary["edges"])),
        "ks": ks_statistic(np.asarray(summary["sample"]), present),
        "missing_share": float(len(values) - len(present)) / total,
        "out_of_range_share": float(np.sum(outside)) / total,
    }


def drift_report(
    baseline: dict[str, Any], rows: list[list[float]], found: list[Any], requests: int
) -> dict[str, Any]:
    names = baseline["feature_names"]
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
    features: dict[str, Any] = {}
    any_missing = np.zeros(len(rows), dtype=bool)
    any_outside = np.zeros(len(rows), dtype=bool)
    for i, name in enumerate(names):
        summary = baseline["features"][name]
        column = matrix[:, i]
        if len(rows):
            features[name] = feature_figures(column, summary)
        missing = np.isnan(column)
        any_missing |= missing
        with np.errstate(invalid="ignore"):
            any_outside |= ~missing & ((column < summary["min"]) | (column > summary["max"]))
    prediction = baseline["prediction"]
    numeric = prediction["kind"] == "numeric"
    values = [float(a) for a in found] if numeric else [str(a) for a in found]
    total = max(len(rows), 1)
    return {
        "rows": len(rows),
        "requests": requests,
        "features": features,
        "rows_missing_share": float(np.sum(any_missing)) / total,
        "rows_out_of_range_share": float(np.sum(any_outside)) / total,
        "prediction": {
            "kind": prediction["kind"],
            "answers": len(values),
            "psi": prediction_psi(prediction, values),
            "shares": (
                bin_shares(np.asarray(values), prediction["edges"])
                if numeric
                else category_shares(values)
            ),
            "baseline_shares": prediction["shares"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baseline_files = sorted(args.baseline_dir.rglob(BASELINE_FILENAME))
    if not baseline_files:
        print(
            f"drift check failed: no {BASELINE_FILENAME} under {args.baseline_dir}", file=sys.stderr
        )
        return 1
    baseline = json.loads(baseline_files[0].read_text(encoding="utf-8"))
    start, end = parse_time(args.window_start), parse_time(args.window_end)
    rows, found, requests = read_capture(args.capture_dir, start, end, baseline["feature_names"])
    report = drift_report(baseline, rows, found, requests)
    report["window"] = {"start": args.window_start, "end": args.window_end}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.output_dir / REPORT_FILENAME, report)
    top = sorted(report["features"].items(), key=lambda kv: -kv[1]["psi"])[:3]
    print(
        f"{report['rows']} rows in {requests} requests; highest PSI: "
        + (", ".join(f"{n}={f['psi']:.3f}" for n, f in top) or "none"),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
