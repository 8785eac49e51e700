"""ml/drift.py over data-capture files: the baseline train.py wrote, traffic from the dataset
as it is (no drift) and scaled (drift), in SageMaker's capture format."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASET

WINDOW = ["--window-start", "2026-01-01T00:00:00Z", "--window-end", "2026-01-01T01:00:00Z"]


def _rows(scale: dict[int, float] | None = None) -> list[list[str]]:
    with DATASET.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    out = []
    for row in rows:
        cells = [float(v) for v in row[:-1]]  # the label is the last column
        for index, factor in (scale or {}).items():
            cells[index] *= factor
        out.append([repr(v) for v in cells])
    return out


def _record(rows: list[list[str]], time: str, label: int = 1, base64_input: bool = False) -> str:
    body = "".join(",".join(row) + "\n" for row in rows)
    data, encoding = body, "CSV"
    if base64_input:
        data, encoding = base64.b64encode(body.encode()).decode(), "BASE64"
    answer = json.dumps({"predictions": [{"label": label, "probability": 0.9}] * len(rows)})
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },  # fmt: skip
            "eventMetadata": {"eventId": "e", "inferenceTime": time},
            "eventVersion": "0",
        }
    )


def _check(run_script, trained, tmp_path: Path, lines: list[str]) -> dict:
    capture = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "01" / "01" / "00"
    capture.mkdir(parents=True)
    (capture / "00-00-000-x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["--baseline-dir", str(trained.model_dir), "--capture-dir", str(tmp_path / "capture"),
            "--output-dir", str(tmp_path / "report"), *WINDOW]  # fmt: skip
    result = run_script("drift.py", args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads((tmp_path / "report" / "drift.json").read_text())


def test_training_writes_a_baseline_per_feature_and_of_its_answers(trained_random_forest):
    baseline = json.loads((trained_random_forest.model_dir / "baseline.json").read_text())
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert baseline["feature_names"] == metadata["feature_names"]
    radius = baseline["features"]["mean_radius"]
    assert len(radius["shares"]) == len(radius["edges"]) + 1 == 10
    assert sum(radius["shares"]) == pytest.approx(1.0)
    assert len(radius["sample"]) == metadata["rows_train"] == baseline["rows"]
    assert radius["min"] == min(radius["sample"]) and radius["max"] == max(radius["sample"])
    assert baseline["prediction"]["kind"] == "categorical"
    assert set(baseline["prediction"]["shares"]) == {"0", "1"}


def test_in_distribution_traffic_has_low_psi_and_no_out_of_range_rows(
    run_script, trained_random_forest, tmp_path
):
    rows = _rows()
    lines = [_record(rows[i : i + 5], "2026-01-01T00:10:00Z") for i in range(0, 300, 5)]
    report = _check(run_script, trained_random_forest, tmp_path, lines)
    assert report["rows"] == 300 and report["requests"] == 60
    assert max(f["psi"] for f in report["features"].values()) < 0.1
    assert max(f["ks"] for f in report["features"].values()) < 0.1
    assert report["rows_missing_share"] == 0


def test_scaled_features_drift_and_leave_the_training_range(
    run_script, trained_random_forest, tmp_path
):
    rows = _rows(scale={0: 1.6, 2: 1.6})  # mean_radius, mean_perimeter
    lines = [_record(rows[i : i + 5], "2026-01-01T00:20:00Z", base64_input=True)
             for i in range(0, 300, 5)]  # fmt: skip
    report = _check(run_script, trained_random_forest, tmp_path, lines)
    figures = report["features"]
    assert figures["mean_radius"]["psi"] > 1 and figures["mean_perimeter"]["ks"] > 0.5
    assert figures["mean_texture"]["psi"] < 0.1
    assert report["rows_out_of_range_share"] > 0.1
    # every answer was label 1: the prediction distribution moved too
    assert report["prediction"]["shares"] == {"1": 1.0} and report["prediction"]["psi"] > 1


def test_records_outside_the_window_and_missing_cells_are_handled(
    run_script, trained_random_forest, tmp_path
):
    rows = _rows()[:10]
    rows[0][3] = ""  # an empty cell is missing
    lines = [_record(rows, "2026-01-01T00:30:00Z"), _record(rows, "2026-01-01T02:00:00Z")]
    report = _check(run_script, trained_random_forest, tmp_path, lines)
    assert report["rows"] == 10 and report["requests"] == 1
    assert report["features"]["mean_area"]["missing_share"] == pytest.approx(0.1)
    assert report["rows_missing_share"] == pytest.approx(0.1)
    assert np.isfinite(report["features"]["mean_area"]["psi"])
