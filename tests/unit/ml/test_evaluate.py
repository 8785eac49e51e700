"""ml/evaluate.py run as a SageMaker Processing job runs it (subprocess, container arguments)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ml import common

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"


@pytest.fixture
def processing(tmp_path: Path, random_forest_archive: Path) -> Path:
    """/opt/ml/processing as the job lays it out: data, candidate archive, no champion."""
    root = tmp_path / "processing"
    (root / "input" / "data").mkdir(parents=True)
    shutil.copy(DATASET, root / "input" / "data" / DATASET.name)
    (root / "model" / "candidate").mkdir(parents=True)
    shutil.copy(random_forest_archive, root / "model" / "candidate" / "model.tar.gz")
    return root


def evaluate(run_script, root: Path, *extra: str):
    args = [
        "--data-dir", str(root / "input" / "data"),
        "--candidate-dir", str(root / "model" / "candidate"),
        "--champion-dir", str(root / "model" / "champion"),
        "--output-dir", str(root / "evaluation"),
        "--label", "malignant",
        "--primary-metric", "f1",
        *extra,
    ]  # fmt: skip
    return run_script("evaluate.py", args, cwd=root)


def reports(root: Path) -> tuple[dict, dict]:
    evaluation = json.loads((root / "evaluation" / "evaluation.json").read_text())
    quality = json.loads((root / "evaluation" / "model_quality.json").read_text())
    return evaluation, quality


def assert_metrics(metrics: dict) -> None:
    assert set(metrics) == set(common.METRIC_NAMES)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in metrics.values())


def test_without_champion_writes_both_reports_with_champion_null(run_script, processing) -> None:
    result = evaluate(run_script, processing, "--test-size", "0.2", "--seed", "42")
    assert result.returncode == 0, result.stderr
    evaluation, quality = reports(processing)
    assert set(evaluation) == {"primary_metric", "split", "candidate", "champion"}
    assert evaluation["primary_metric"] == "f1"
    assert evaluation["split"] == {
        "test_size": 0.2,
        "seed": 42,
        "rows_total": 569,
        "rows_test": 114,
    }
    assert set(evaluation["candidate"]) == {"metrics"}
    assert_metrics(evaluation["candidate"]["metrics"])
    assert evaluation["candidate"]["metrics"]["f1"] > 0.9
    assert evaluation["champion"] is None
    assert quality == {
        "binary_classification_metrics": {
            sagemaker_name: {
                "value": evaluation["candidate"]["metrics"][ours],
                "standard_deviation": "NaN",
            }
            for ours, sagemaker_name in [
                ("accuracy", "accuracy"),
                ("precision", "precision"),
                ("recall", "recall"),
                ("f1", "f1"),
                ("roc_auc", "auc"),
            ]
        }
    }


def test_empty_champion_dir_means_no_champion(run_script, processing) -> None:
    (processing / "model" / "champion").mkdir()
    result = evaluate(run_script, processing)
    assert result.returncode == 0, result.stderr
    assert reports(processing)[0]["champion"] is None


def test_identical_champion_scores_identically(run_script, processing) -> None:
    (processing / "model" / "champion").mkdir()
    shutil.copy(
        processing / "model" / "candidate" / "model.tar.gz",
        processing / "model" / "champion" / "model.tar.gz",
    )
    result = evaluate(run_script, processing)
    assert result.returncode == 0, result.stderr
    evaluation, _ = reports(processing)
    assert_metrics(evaluation["champion"]["metrics"])
    assert evaluation["champion"] == evaluation["candidate"]


def test_different_champion_is_scored_on_the_same_rows(
    run_script, processing, train_model, pack, tmp_path
) -> None:
    champion_run = train_model(tmp_path / "champion-job", ["--algorithm", "logistic_regression"])
    assert champion_run.result.returncode == 0, champion_run.result.stderr
    pack(champion_run.model_dir, processing / "model" / "champion" / "model.tar.gz")
    result = evaluate(run_script, processing)
    assert result.returncode == 0, result.stderr
    evaluation, _ = reports(processing)
    assert_metrics(evaluation["champion"]["metrics"])
    # Each model's held-out score equals what train.py measured on its own held-out rows,
    # so evaluate.py recomputed exactly the split training held out.
    champion_meta = json.loads((champion_run.model_dir / "metadata.json").read_text())
    assert evaluation["champion"]["metrics"] == champion_meta["validation_metrics"]
    assert evaluation["champion"]["metrics"] != evaluation["candidate"]["metrics"]


def test_candidate_metrics_match_training_validation_metrics(
    run_script, processing, trained_random_forest
) -> None:
    assert evaluate(run_script, processing).returncode == 0
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert reports(processing)[0]["candidate"]["metrics"] == metadata["validation_metrics"]


def test_split_defaults_to_what_the_candidate_was_trained_with(
    run_script, processing, train_model, pack, tmp_path
) -> None:
    run = train_model(tmp_path / "job", ["--test-size", "0.3", "--seed", "7"])
    assert run.result.returncode == 0, run.result.stderr
    pack(run.model_dir, processing / "model" / "candidate" / "model.tar.gz")
    assert evaluate(run_script, processing).returncode == 0
    evaluation, _ = reports(processing)
    assert evaluation["split"] == {"test_size": 0.3, "seed": 7, "rows_total": 569, "rows_test": 171}


def test_missing_candidate_fails_clearly(run_script, processing) -> None:
    (processing / "model" / "candidate" / "model.tar.gz").unlink()
    result = evaluate(run_script, processing)
    assert result.returncode != 0
    assert "candidate model missing" in result.stderr
    assert not (processing / "evaluation" / "evaluation.json").exists()


def test_missing_data_fails_clearly(run_script, processing) -> None:
    (processing / "input" / "data" / DATASET.name).unlink()
    result = evaluate(run_script, processing)
    assert result.returncode != 0
    assert "evaluation data unusable: no CSV files in data directory" in result.stderr


def test_unusable_champion_fails_instead_of_letting_the_candidate_win(
    run_script, processing
) -> None:
    (processing / "model" / "champion").mkdir()
    (processing / "model" / "champion" / "notes.txt").write_text("not a model")
    result = evaluate(run_script, processing)
    assert result.returncode != 0
    assert "champion model unusable" in result.stderr
