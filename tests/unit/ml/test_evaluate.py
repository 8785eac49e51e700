"""ml/evaluate.py run as a SageMaker Processing job runs it (subprocess, container arguments)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import problems
import pytest

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
DATA = {
    "binary_classification": (DATASET, "malignant", "f1"),
    "multiclass_classification": (DATASET.parent / "wine.csv", "cultivar", "macro_f1"),
    "regression": (DATASET.parent / "diabetes.csv", "progression", "rmse"),
}


def layout(root: Path, data: Path, archive: Path) -> Path:
    """/opt/ml/processing as the job lays it out: data, candidate archive, no champion."""
    (root / "input" / "data").mkdir(parents=True)
    shutil.copy(data, root / "input" / "data" / data.name)
    (root / "model" / "candidate").mkdir(parents=True)
    shutil.copy(archive, root / "model" / "candidate" / "model.tar.gz")
    return root


@pytest.fixture
def processing(tmp_path: Path, random_forest_archive: Path) -> Path:
    return layout(tmp_path / "processing", DATASET, random_forest_archive)


def evaluate(run_script, root: Path, *extra: str, label: str = "malignant", metric: str = "f1"):
    args = [
        "--data-dir", str(root / "input" / "data"),
        "--candidate-dir", str(root / "model" / "candidate"),
        "--champion-dir", str(root / "model" / "champion"),
        "--output-dir", str(root / "evaluation"),
        "--label", label,
        "--primary-metric", metric,
        *extra,
    ]  # fmt: skip
    return run_script("evaluate.py", args, cwd=root)


def reports(root: Path) -> tuple[dict, dict]:
    evaluation = json.loads((root / "evaluation" / "evaluation.json").read_text())
    quality = json.loads((root / "evaluation" / "model_quality.json").read_text())
    return evaluation, quality


def assert_metrics(metrics: dict, problem: str = "binary_classification") -> None:
    assert list(metrics) == problems.metric_names(problem)
    assert all(isinstance(v, float) for v in metrics.values())


def test_without_champion_writes_the_reports_with_champion_null(run_script, processing) -> None:
    result = evaluate(run_script, processing, "--test-size", "0.2", "--seed", "42")
    assert result.returncode == 0, result.stderr
    evaluation, quality = reports(processing)
    assert evaluation["problem_type"] == "binary_classification"
    assert (evaluation["primary_metric"], evaluation["direction"]) == ("f1", "higher")
    assert evaluation["split"] == {
        "test_size": 0.2,
        "seed": 42,
        "rows_total": 569,
        "rows_test": 114,
    }
    assert set(evaluation["candidate"]) == {"metrics"}
    assert_metrics(evaluation["candidate"]["metrics"])
    assert evaluation["candidate"]["metrics"]["f1"] > 0.9
    assert evaluation["champion"] is None and evaluation["champion_skipped"] is None
    # SageMaker's binary_classification_metrics names ("Model quality metrics", Model Monitor)
    ours = evaluation["candidate"]["metrics"]
    assert quality == {"binary_classification_metrics": {
        name: {"value": ours[mine], "standard_deviation": "NaN"}
        for mine, name in [("recall", "recall"), ("precision", "precision"),
                           ("accuracy", "accuracy"), ("roc_auc", "auc"), ("f1", "f1")]
    }}  # fmt: skip
    schema = json.loads((processing / "evaluation" / "feature_schema.json").read_text())
    assert schema["label"] == "malignant" and len(schema["features"]) == 30
    assert schema["features"][0] == {"name": "mean_radius", "type": "float64"}


@pytest.mark.parametrize(
    ("problem", "key", "names"),
    [
        ("multiclass_classification", "multiclass_classification_metrics",
         {"accuracy", "weighted_recall", "weighted_precision", "weighted_f1"}),
        ("regression", "regression_metrics", {"mae", "mse", "rmse", "r2"}),
    ],
)  # fmt: skip
def test_each_problem_type_gets_its_own_report_and_model_quality_shape(
    run_script, tmp_path, trained_per_problem, pack, problem, key, names
) -> None:
    data, label, metric = DATA[problem]
    archive = pack(trained_per_problem[problem].model_dir, tmp_path / "s3" / "model.tar.gz")
    root = layout(tmp_path / "processing", data, archive)
    result = evaluate(run_script, root, "--problem-type", problem, label=label, metric=metric)
    assert result.returncode == 0, result.stderr
    evaluation, quality = reports(root)
    assert evaluation["problem_type"] == problem
    assert evaluation["direction"] == ("lower" if metric == "rmse" else "higher")
    assert_metrics(evaluation["candidate"]["metrics"], problem)
    assert list(quality) == [key] and set(quality[key]) == names
    if problem == "regression":
        ours, theirs = evaluation["candidate"]["metrics"], quality[key]
        assert theirs["rmse"]["value"] == pytest.approx(ours["rmse"])
        assert theirs["mse"]["value"] == pytest.approx(ours["rmse"] ** 2)
    else:
        assert quality[key]["accuracy"]["value"] == evaluation["candidate"]["metrics"]["accuracy"]
    metadata = json.loads((trained_per_problem[problem].model_dir / "metadata.json").read_text())
    assert evaluation["candidate"]["metrics"] == metadata["validation_metrics"]


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
    champion_run = train_model(tmp_path / "champion-job", ["--algorithm", "linear"])
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


def test_a_multiclass_champion_is_scored_by_the_classes_it_names(
    run_script, tmp_path, trained_per_problem, pack, train_model
) -> None:
    # The champion learnt from data with one more class (its indices differ from the
    # candidate's): its answers are compared by class name, on the same rows.
    data, label, metric = DATA["multiclass_classification"]
    lines = data.read_text().splitlines()
    extra = [lines[1].replace("class_0", "class_00"), lines[2].replace("class_0", "class_00")]
    wider = tmp_path / "wider.csv"
    wider.write_text("\n".join([*lines, *extra]) + "\n")
    args = ["--problem-type", "multiclass_classification", "--label", label, "--n-estimators", "30"]
    champion = train_model(tmp_path / "champion-job", args, wider)
    assert champion.result.returncode == 0, champion.result.stderr
    candidate = trained_per_problem["multiclass_classification"].model_dir
    root = layout(tmp_path / "processing", data, pack(candidate, tmp_path / "c" / "model.tar.gz"))
    pack(champion.model_dir, root / "model" / "champion" / "model.tar.gz")
    assert evaluate(run_script, root, label=label, metric=metric).returncode == 0
    evaluation, _ = reports(root)
    assert evaluation["champion"]["metrics"]["accuracy"] > 0.9


def test_a_champion_of_another_problem_type_is_skipped_with_the_reason(
    run_script, tmp_path, trained_per_problem, pack, random_forest_archive
) -> None:
    data, label, metric = DATA["regression"]
    candidate = trained_per_problem["regression"].model_dir
    root = layout(tmp_path / "processing", data, pack(candidate, tmp_path / "c" / "model.tar.gz"))
    (root / "model" / "champion").mkdir()
    shutil.copy(random_forest_archive, root / "model" / "champion" / "model.tar.gz")
    result = evaluate(run_script, root, label=label, metric=metric)
    assert result.returncode == 0, result.stderr
    evaluation, _ = reports(root)
    assert evaluation["champion"] is None
    assert evaluation["champion_skipped"] == (
        "champion not comparable: trained for binary_classification, this run is regression"
    )


def test_candidate_metrics_match_training_validation_metrics(
    run_script, processing, trained_random_forest
) -> None:
    assert evaluate(run_script, processing).returncode == 0
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert reports(processing)[0]["candidate"]["metrics"] == metadata["validation_metrics"]


def test_split_defaults_to_what_the_candidate_was_trained_with(
    run_script, processing, train_model, pack, tmp_path
) -> None:
    run = train_model(
        tmp_path / "job", ["--test-size", "0.3", "--seed", "7", "--n-estimators", "10"]
    )
    assert run.result.returncode == 0, run.result.stderr
    pack(run.model_dir, processing / "model" / "candidate" / "model.tar.gz")
    assert evaluate(run_script, processing).returncode == 0
    evaluation, _ = reports(processing)
    assert evaluation["split"] == {"test_size": 0.3, "seed": 7, "rows_total": 569, "rows_test": 171}


@pytest.mark.parametrize(
    ("extra", "metric", "message"),
    [
        (["--problem-type", "regression"], "f1",
         "the candidate was trained for binary_classification, the stack's problem type is regr"),
        (["--positive-label", "0"], "f1", "the candidate's positive label is '1', the stack's is"),
        ([], "rmse", "metric 'rmse' does not apply to binary_classification"),
    ],
)  # fmt: skip
def test_a_candidate_that_does_not_fit_the_stack_fails_clearly(
    run_script, processing, extra, metric, message
) -> None:
    result = evaluate(run_script, processing, *extra, metric=metric)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (processing / "evaluation" / "evaluation.json").exists()


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
