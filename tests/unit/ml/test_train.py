"""ml/train.py run as the SageMaker scikit-learn container runs it (subprocess + SM_* env)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import common
import joblib
import numpy as np
import problems
import pytest
import sklearn
from estimators import build
from problems import LabelEncoding

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
METRIC_LINE = re.compile(r"^metric (\w+)=(-?[0-9.]+)$", re.MULTILINE)


def held_out_metrics(model_dir: Path, test_size: float = 0.2, seed: int = 42) -> dict[str, float]:
    """Recomputed here from the saved model and the data, independently of train.py."""
    model = common.load_model(model_dir)
    encoding = model.encoding
    data, _ = {"binary_classification": (DATASET, 0), "multiclass_classification":
               (DATASET.parent / "wine.csv", 0), "regression": (DATASET.parent / "diabetes.csv",
               0)}[encoding.problem_type]  # fmt: skip
    dataset = common.load_dataset(data, label=model.metadata["label"])
    targets = encoding.encode(dataset.label_values)
    _, rows = common.split_indices(targets, test_size, seed, encoding.problem_type)
    found = common.predict(model.estimator, encoding.problem_type, dataset.features[rows],
                           len(encoding.classes))  # fmt: skip
    return problems.compute_metrics(
        encoding.problem_type, targets[rows], found.targets, found.positive_probability
    )


def test_writes_model_metadata_and_feature_schema_into_sm_model_dir(trained_random_forest):
    model_dir = trained_random_forest.model_dir
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "baseline.json", "feature_schema.json", "metadata.json", "model.joblib"
    ]  # fmt: skip
    metadata = json.loads((model_dir / "metadata.json").read_text())
    names = common.load_dataset(DATASET).feature_names
    assert metadata["feature_names"] == names and len(names) == 30
    assert metadata["label"] == "malignant"
    assert metadata["problem_type"] == "binary_classification"
    assert metadata["label_encoding"] == {
        "problem_type": "binary_classification", "positive_label": "1", "negative_label": "0"
    }  # fmt: skip
    assert metadata["algorithm"] == "random_forest"
    assert metadata["hyperparameters"] == {
        "algorithm": "random_forest", "n_estimators": 100, "max_depth": None,
        "test_size": 0.2, "seed": 42,
    }  # fmt: skip
    assert metadata["sklearn_version"] == sklearn.__version__
    assert set(metadata["train_metrics"]) == set(problems.metric_names("binary_classification"))
    schema = json.loads((model_dir / "feature_schema.json").read_text())
    assert schema == {"features": [{"name": n, "type": "float64"} for n in names],
                      "label": "malignant"}  # fmt: skip
    assert not trained_random_forest.failure_file.exists()


def test_trains_on_the_train_split_only(trained_random_forest) -> None:
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert (metadata["rows_total"], metadata["rows_train"]) == (569, 455)
    # Refitting the same estimator on exactly the train split reproduces the saved model.
    dataset = common.load_dataset(DATASET)
    targets = LabelEncoding.fit("binary_classification", dataset.label_values).encode(
        dataset.label_values
    )
    train_rows, _ = common.split_indices(targets, 0.2, 42)
    refit, _ = build("random_forest", "binary_classification", {}, 42)
    refit.fit(dataset.features[train_rows], targets[train_rows])
    saved = joblib.load(trained_random_forest.model_dir / "model.joblib")
    np.testing.assert_array_equal(
        saved.predict_proba(dataset.features), refit.predict_proba(dataset.features)
    )


def test_prints_metric_lines_for_train_and_validation(trained_random_forest) -> None:
    printed = dict(METRIC_LINE.findall(trained_random_forest.result.stdout))
    names = problems.metric_names("binary_classification")
    assert set(printed) == {
        f"{split}_{name}" for split in ("train", "validation") for name in names
    }
    assert all(0.0 <= float(value) <= 1.0 for value in printed.values())
    metrics = json.loads((trained_random_forest.output_dir / "data" / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation"} and set(metrics["validation"]) == set(names)


def test_random_forest_scores_well_on_the_held_out_split(trained_random_forest) -> None:
    metrics = held_out_metrics(trained_random_forest.model_dir)
    assert metrics["f1"] > 0.9
    assert metrics["roc_auc"] > 0.95
    metadata = json.loads((trained_random_forest.model_dir / "metadata.json").read_text())
    assert metadata["validation_metrics"] == metrics  # train.py held out exactly these rows


def test_each_shipped_problem_trains_with_its_own_metrics(trained_per_problem) -> None:
    expectations = {  # what a 30-tree forest reaches on each held-out split
        "binary_classification": ("f1", lambda v: v > 0.9),
        "multiclass_classification": ("macro_f1", lambda v: v > 0.9),
        "regression": ("rmse", lambda v: v < 65.0),  # progression spans 25..346
    }
    for problem, run in trained_per_problem.items():
        metadata = json.loads((run.model_dir / "metadata.json").read_text())
        assert metadata["problem_type"] == problem
        metrics = held_out_metrics(run.model_dir)
        assert list(metrics) == problems.metric_names(problem)
        assert metadata["validation_metrics"] == metrics
        metric, good = expectations[problem]
        assert good(metrics[metric]), (problem, metrics)
    wine = json.loads((trained_per_problem["multiclass_classification"].model_dir /
                       "metadata.json").read_text())  # fmt: skip
    assert wine["label_encoding"]["classes"] == ["class_0", "class_1", "class_2"]


@pytest.mark.parametrize("algorithm", ["gradient_boosting", "linear", "logistic_regression"])
def test_other_algorithms_train_and_score_well(train_model, tmp_path: Path, algorithm) -> None:
    run = train_model(tmp_path, ["--algorithm", algorithm])
    assert run.result.returncode == 0, run.result.stderr
    metadata = json.loads((run.model_dir / "metadata.json").read_text())
    assert metadata["algorithm"] == algorithm
    assert held_out_metrics(run.model_dir)["f1"] > 0.9


def relabelled(tmp_path: Path, positive: str, negative: str) -> Path:
    """The breast cancer data with its labels written another way."""
    lines = DATASET.read_text().splitlines()
    rows = [r.rsplit(",", 1)[0] + "," + (positive if r.endswith(",1") else negative)
            for r in lines[1:]]  # fmt: skip
    data = tmp_path / "relabelled.csv"
    data.write_text("\n".join([lines[0], *rows]) + "\n")
    return data


@pytest.mark.parametrize(
    ("written", "positive"), [(("True", "False"), "1"), (("1.0", "0.0"), "1"),
                              (("yes", "no"), "yes"), (("M", "B"), "M")],
)  # fmt: skip
def test_binary_labels_in_other_spellings_give_the_same_targets(
    tmp_path: Path, written, positive
) -> None:
    reference = common.load_dataset(DATASET).label_values
    expected = LabelEncoding.fit("binary_classification", reference).encode(reference)
    values = common.load_dataset(relabelled(tmp_path, *written)).label_values
    encoding = LabelEncoding.fit("binary_classification", values, positive)
    np.testing.assert_array_equal(encoding.encode(values), expected)


def test_true_false_labels_train_with_malignant_as_the_positive_class(
    train_model, tmp_path: Path
) -> None:
    data = relabelled(tmp_path, "True", "False")
    run = train_model(tmp_path / "job", ["--n-estimators", "10"], data)
    assert run.result.returncode == 0, run.result.stderr
    metadata = json.loads((run.model_dir / "metadata.json").read_text())
    assert metadata["label_encoding"]["negative_label"] == "0"
    # Scored against the 0/1 file, the model is as good as train.py measured it.
    assert held_out_metrics(run.model_dir) == metadata["validation_metrics"]
    assert metadata["validation_metrics"]["f1"] > 0.9


def test_accepts_hyperparameters_the_way_sagemaker_passes_them(train_model, tmp_path) -> None:
    # One-letter keys become "-c"; values may arrive JSON-encoded; None becomes "".
    args = ["--algorithm", '"linear"', "-c", "0.5", "--problem_type", '"regression"']
    args += ["--label", "progression", "--test_size", "0.3", "--seed", "7"]
    args += ["--sagemaker_program", "train.py"]
    run = train_model(tmp_path, args, DATASET.parent / "diabetes.csv")
    assert run.result.returncode == 0, run.result.stderr
    hyperparameters = json.loads((run.model_dir / "metadata.json").read_text())["hyperparameters"]
    assert hyperparameters == {"algorithm": "linear", "c": 0.5, "test_size": 0.3, "seed": 7}
    assert joblib.load(run.model_dir / "model.joblib").steps[-1][1].alpha == 1.0


def test_runs_with_the_arguments_the_training_toolkit_builds(train_model, tmp_path) -> None:
    # HyperParameters as our Lambda sends them (dashed keys); the sagemaker-training toolkit
    # JSON-decodes each value back to these and turns them into train.py's argv.
    from sagemaker_training.mapping import to_cmd_args

    sent = {
        "algorithm": "random_forest",
        "n-estimators": 30,
        "max-depth": None,
        "label": "cultivar",
        "test-size": 0.2,
        "seed": 42,
        "problem-type": "multiclass_classification",
        "positive-label": "1",
        "max-classes": 20,
    }
    argv = [str(arg) for arg in to_cmd_args(sent)]
    assert argv[argv.index("--max-depth") + 1] == ""  # the awkward case
    run = train_model(tmp_path, argv, DATASET.parent / "wine.csv")
    assert run.result.returncode == 0, run.result.stderr
    metadata = json.loads((run.model_dir / "metadata.json").read_text())
    assert metadata["problem_type"] == "multiclass_classification"
    assert metadata["hyperparameters"] == {
        "algorithm": "random_forest", "n_estimators": 30, "max_depth": None,
        "test_size": 0.2, "seed": 42,
    }  # fmt: skip


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
        (["--algorithm", "svm"], "unknown algorithm 'svm'; this code offers"),
        (["--n-estimator", "5"], "random_forest does not take ['n_estimator']"),
        (["--n-estimators", "many"], "n_estimators: expected a positive integer, got 'many'"),
        (["--test-size", "2"], "test_size must be between 0 and 1"),
        (["--n-estimators"], "invalid hyperparameters: --n-estimators has no value"),
        (["--problem-type", "clustering"], "argument --problem-type/--problem_type: invalid"),
        (["--positive-label", "yes"], "the positive label 'yes' does not occur among the labels"),
        (["--algorithm", "logistic_regression", "--problem-type", "regression", "--label",
          "mean_radius"], "'logistic_regression' does not solve regression"),
    ],
)  # fmt: skip
def test_bad_hyperparameters_fail_with_failure_file(train_model, tmp_path, args, message) -> None:
    run = train_model(tmp_path, args)
    assert run.result.returncode != 0
    assert message in run.failure_file.read_text()


def test_empty_channel_fails_with_failure_file(train_model, tmp_path: Path) -> None:
    run = train_model(tmp_path, data=None)
    assert run.result.returncode != 0
    assert "no CSV files in data directory" in run.failure_file.read_text()
