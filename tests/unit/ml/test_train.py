"""ml/train.py run as the SageMaker scikit-learn container runs it (subprocess + SM_* env)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn

from ml import common

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
METRIC_LINE = re.compile(r"^metric (\w+)=([0-9.]+)$", re.MULTILINE)


def held_out_metrics(model_dir: Path, test_size: float = 0.2, seed: int = 42) -> dict[str, float]:
    dataset = common.load_dataset(DATASET)
    _, test_rows = common.split_indices(dataset.labels, test_size, seed)
    model = joblib.load(model_dir / "model.joblib")
    return common.compute_metrics(model, dataset.features[test_rows], dataset.labels[test_rows])


def test_writes_model_and_metadata_into_sm_model_dir(trained_random_forest) -> None:
    model_dir = trained_random_forest.model_dir
    assert sorted(p.name for p in model_dir.iterdir()) == ["metadata.json", "model.joblib"]
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["feature_names"] == common.load_dataset(DATASET).feature_names
    assert len(metadata["feature_names"]) == 30
    assert metadata["label"] == "malignant"
    assert metadata["classes"] == [0, 1]
    assert metadata["algorithm"] == "random_forest"
    assert metadata["hyperparameters"] == {
        "algorithm": "random_forest",
        "n_estimators": 100,
        "max_depth": None,
        "learning_rate": 0.1,
        "c": 1.0,
        "test_size": 0.2,
        "seed": 42,
    }
    assert metadata["sklearn_version"] == sklearn.__version__
    assert set(metadata["train_metrics"]) == set(common.METRIC_NAMES)
    assert not trained_random_forest.failure_file.exists()


def test_trains_on_the_train_split_only(trained_random_forest) -> None:
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert (metadata["rows_total"], metadata["rows_train"]) == (569, 455)
    # Refitting the same estimator on exactly the train split reproduces the saved model.
    dataset = common.load_dataset(DATASET)
    train_rows, _ = common.split_indices(dataset.labels, 0.2, 42)
    refit = common.build_model("random_forest", seed=42)
    refit.fit(dataset.features[train_rows], dataset.labels[train_rows])
    saved = joblib.load(trained_random_forest.model_dir / "model.joblib")
    np.testing.assert_array_equal(
        saved.predict_proba(dataset.features), refit.predict_proba(dataset.features)
    )


def test_prints_metric_lines_for_train_and_validation(trained_random_forest) -> None:
    printed = dict(METRIC_LINE.findall(trained_random_forest.result.stdout))
    expected = {
        f"{split}_{name}" for split in ("train", "validation") for name in common.METRIC_NAMES
    }
    assert set(printed) == expected
    assert all(0.0 <= float(value) <= 1.0 for value in printed.values())


def test_output_data_dir_gets_the_metrics(trained_random_forest) -> None:
    metrics = json.loads((trained_random_forest.output_dir / "data" / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation"}
    assert set(metrics["validation"]) == set(common.METRIC_NAMES)


def test_random_forest_scores_well_on_the_held_out_split(trained_random_forest) -> None:
    metrics = held_out_metrics(trained_random_forest.model_dir)
    assert metrics["f1"] > 0.9
    assert metrics["roc_auc"] > 0.95
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert metadata["validation_metrics"] == metrics  # train.py held out exactly these rows


@pytest.mark.parametrize("algorithm", ["gradient_boosting", "logistic_regression"])
def test_other_algorithms_train_and_score_well(train_model, tmp_path: Path, algorithm) -> None:
    run = train_model(tmp_path, ["--algorithm", algorithm, "--n-estimators", "50"])
    assert run.result.returncode == 0, run.result.stderr
    metadata = json.loads((run.model_dir / "metadata.json").read_text())
    assert metadata["algorithm"] == algorithm
    assert held_out_metrics(run.model_dir)["f1"] > 0.9


def test_accepts_hyperparameters_the_way_sagemaker_passes_them(train_model, tmp_path) -> None:
    # One-letter keys become "-c"; values may arrive JSON-encoded; None becomes "".
    args = ["--algorithm", '"logistic_regression"', "-c", "0.5", "--max_depth", ""]
    args += ["--test_size", "0.3", "--seed", "7", "--sagemaker_program", "train.py"]
    run = train_model(tmp_path, args)
    assert run.result.returncode == 0, run.result.stderr
    hyperparameters = json.loads((run.model_dir / "metadata.json").read_text())["hyperparameters"]
    assert hyperparameters["algorithm"] == "logistic_regression"
    assert (hyperparameters["c"], hyperparameters["max_depth"]) == (0.5, None)
    assert (hyperparameters["test_size"], hyperparameters["seed"]) == (0.3, 7)
    assert joblib.load(run.model_dir / "model.joblib").steps[-1][1].C == 0.5


def test_runs_with_the_arguments_the_training_toolkit_builds(train_model, tmp_path) -> None:
    # HyperParameters as our Lambda sends them (dashed keys); the sagemaker-training toolkit
    # JSON-decodes each value back to these and turns them into train.py's argv.
    from sagemaker_training.mapping import to_cmd_args

    sent = {
        "algorithm": "gradient_boosting",
        "n-estimators": 30,
        "max-depth": None,
        "learning-rate": 0.2,
        "c": 1.0,
        "label": "malignant",
        "test-size": 0.2,
        "seed": 42,
    }
    argv = [str(arg) for arg in to_cmd_args(sent)]
    assert "-c" in argv and argv[argv.index("--max-depth") + 1] == ""  # the awkward cases
    run = train_model(tmp_path, argv)
    assert run.result.returncode == 0, run.result.stderr
    hyperparameters = json.loads((run.model_dir / "metadata.json").read_text())["hyperparameters"]
    assert hyperparameters == {
        "algorithm": "gradient_boosting",
        "n_estimators": 30,
        "max_depth": None,
        "learning_rate": 0.2,
        "c": 1.0,
        "test_size": 0.2,
        "seed": 42,
    }


def test_same_seed_gives_the_same_model(train_model, tmp_path: Path) -> None:
    args = ["--n-estimators", "20"]
    first = train_model(tmp_path / "a", args)
    second = train_model(tmp_path / "b", args)
    assert first.result.returncode == second.result.returncode == 0
    first_meta = json.loads((first.model_dir / "metadata.json").read_text())
    second_meta = json.loads((second.model_dir / "metadata.json").read_text())
    assert first_meta == second_meta


def test_missing_label_column_fails_with_failure_file(train_model, tmp_path: Path) -> None:
    no_label = tmp_path / "no_label.csv"
    no_label.write_text(DATASET.read_text().replace(",malignant\n", ",diagnosis\n", 1))
    run = train_model(tmp_path / "opt-ml", data=no_label)
    assert run.result.returncode != 0
    failure = run.failure_file.read_text()
    assert "label column 'malignant' missing" in failure
    assert "label column 'malignant' missing" in run.result.stderr
    assert not (run.model_dir / "model.joblib").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--algorithm", "svm"], "invalid choice: 'svm'"),
        (["--n-estimator", "5"], "unrecognized arguments: --n-estimator"),
        (["--n-estimators", "many"], "argument --n-estimators/--n_estimators"),
        (["--test-size", "2"], "test_size must be between 0 and 1"),
    ],
)
def test_bad_hyperparameters_fail_with_failure_file(train_model, tmp_path, args, message) -> None:
    run = train_model(tmp_path, args)
    assert run.result.returncode != 0
    assert message in run.failure_file.read_text()


def test_empty_channel_fails_with_failure_file(train_model, tmp_path: Path) -> None:
    run = train_model(tmp_path, data=None)
    assert run.result.returncode != 0
    assert "no CSV files in data directory" in run.failure_file.read_text()
