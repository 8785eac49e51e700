"""ml/common.py and ml/export_dataset.py: data contract, split, model factory, metrics, loading."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ml import common

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
HEADER = DATASET.read_text(encoding="utf-8").splitlines()[0]
ROWS = DATASET.read_text(encoding="utf-8").splitlines()[1:]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_committed_dataset_matches_the_contract() -> None:
    dataset = common.load_dataset(DATASET)
    assert dataset.features.shape == (569, 30)
    assert dataset.feature_names[:3] == ["mean_radius", "mean_texture", "mean_perimeter"]
    assert "mean_concave_points" in dataset.feature_names
    assert "worst_fractal_dimension" in dataset.feature_names
    assert HEADER.split(",")[-1] == "malignant"
    # sklearn: 212 malignant, 357 benign; malignant is our label 1.
    assert int(dataset.labels.sum()) == 212
    assert set(dataset.labels.tolist()) == {0, 1}


def test_export_reproduces_the_committed_csv_byte_for_byte(run_script, tmp_path: Path) -> None:
    output = tmp_path / "exported.csv"
    result = run_script("export_dataset.py", ["--output", str(output)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == DATASET.read_bytes()


def test_export_labels_sklearn_malignant_target_as_one(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    dataset = common.load_dataset(DATASET)
    assert bunch.target_names[0] == "malignant"
    np.testing.assert_array_equal(dataset.labels, (bunch.target == 0).astype(int))
    np.testing.assert_allclose(dataset.features, bunch.data, rtol=1e-12)


def test_directory_input_reads_every_csv_and_aligns_column_order(tmp_path: Path) -> None:
    columns = HEADER.split(",")
    reordered = [columns[-1], *columns[:-1]]  # label first in the second file
    write_csv(tmp_path / "a.csv", HEADER, ROWS[:300])
    second = [",".join([r.split(",")[-1], *r.split(",")[:-1]]) for r in ROWS[300:]]
    write_csv(tmp_path / "b.csv", ",".join(reordered), second)
    merged = common.load_dataset(tmp_path)
    whole = common.load_dataset(DATASET)
    np.testing.assert_array_equal(merged.features, whole.features)
    np.testing.assert_array_equal(merged.labels, whole.labels)
    assert merged.feature_names == whole.feature_names


def test_missing_label_column_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", HEADER.replace(",malignant", ",diagnosis"), ROWS[:60])
    with pytest.raises(ValueError, match="label column 'malignant' missing"):
        common.load_dataset(path)


def test_non_numeric_feature_names_column_line_and_value(tmp_path: Path) -> None:
    rows = list(ROWS[:60])
    rows[4] = "abc," + rows[4].split(",", 1)[1]
    path = write_csv(tmp_path / "d.csv", HEADER, rows)
    with pytest.raises(ValueError, match=r"d\.csv:6: column 'mean_radius' is not numeric: 'abc'"):
        common.load_dataset(path)


@pytest.mark.parametrize("bad", ["nan", "inf", ""])
def test_missing_or_infinite_feature_values_are_rejected(tmp_path: Path, bad: str) -> None:
    rows = list(ROWS[:60])
    rows[0] = bad + "," + rows[0].split(",", 1)[1]
    with pytest.raises(ValueError, match="mean_radius"):
        common.load_dataset(write_csv(tmp_path / "d.csv", HEADER, rows))


def test_label_other_than_zero_or_one_is_rejected(tmp_path: Path) -> None:
    rows = [*ROWS[:59], ROWS[59].rsplit(",", 1)[0] + ",2"]
    with pytest.raises(ValueError, match="must be 0 or 1, got '2'"):
        common.load_dataset(write_csv(tmp_path / "d.csv", HEADER, rows))


def test_ragged_row_is_rejected(tmp_path: Path) -> None:
    rows = [*ROWS[:10], "1.0,2.0"]
    with pytest.raises(ValueError, match="expected 31 values, got 2"):
        common.load_dataset(write_csv(tmp_path / "d.csv", HEADER, rows))


def test_empty_data_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no data rows"):
        common.load_dataset(write_csv(tmp_path / "header_only.csv", HEADER, []))
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty file"):
        common.load_dataset(tmp_path / "empty.csv")
    (tmp_path / "no_csv").mkdir()
    with pytest.raises(ValueError, match="no CSV files"):
        common.load_dataset(tmp_path / "no_csv")
    with pytest.raises(ValueError, match="does not exist"):
        common.load_dataset(tmp_path / "absent")


def test_split_is_deterministic_stratified_and_partitions_rows() -> None:
    labels = common.load_dataset(DATASET).labels
    train, test = common.split_indices(labels, test_size=0.2, seed=42)
    again_train, again_test = common.split_indices(labels, test_size=0.2, seed=42)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert len(test) == 114 and len(train) == 455
    assert sorted([*train.tolist(), *test.tolist()]) == list(range(len(labels)))
    # Stratified: the malignant share of the test split is the data's share, within one row.
    assert abs(labels[test].sum() - 0.2 * labels.sum()) <= 1
    _, other_test = common.split_indices(labels, test_size=0.2, seed=7)
    assert set(other_test.tolist()) != set(test.tolist())


def test_split_rejects_single_class_and_bad_test_size() -> None:
    with pytest.raises(ValueError, match="both classes"):
        common.split_indices(np.zeros(100, dtype=int), 0.2, 42)
    with pytest.raises(ValueError, match="test_size"):
        common.split_indices(np.array([0, 1] * 50), 1.5, 42)


def test_model_factory_builds_each_algorithm() -> None:
    forest = common.build_model("random_forest", n_estimators=7, max_depth=4, seed=3)
    assert isinstance(forest, RandomForestClassifier)
    assert (forest.n_estimators, forest.max_depth, forest.n_jobs, forest.random_state) == (
        7,
        4,
        1,
        3,
    )
    boosting = common.build_model("gradient_boosting", learning_rate=0.05)
    assert isinstance(boosting, GradientBoostingClassifier)
    assert (boosting.learning_rate, boosting.max_depth) == (0.05, 3)
    logistic = common.build_model("logistic_regression", c=0.5)
    assert isinstance(logistic, Pipeline)
    assert isinstance(logistic.steps[0][1], StandardScaler)
    assert isinstance(logistic.steps[-1][1], LogisticRegression)
    assert logistic.steps[-1][1].C == 0.5
    with pytest.raises(ValueError, match="unknown algorithm 'svm'"):
        common.build_model("svm")


def test_metrics_use_class_one_as_positive() -> None:
    dataset = common.load_dataset(DATASET)
    model = common.build_model("logistic_regression").fit(dataset.features, dataset.labels)
    metrics = common.compute_metrics(model, dataset.features, dataset.labels)
    assert list(metrics) == list(common.METRIC_NAMES)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in metrics.values())
    assert metrics["accuracy"] > 0.95
    # Inverting the labels must wreck precision/recall for class 1 if class 1 is the positive one.
    flipped = common.compute_metrics(model, dataset.features, 1 - dataset.labels)
    assert flipped["recall"] < 0.1 and flipped["roc_auc"] < 0.1


def test_load_model_from_directory_and_archive(
    trained_random_forest, random_forest_archive
) -> None:
    from_dir = common.load_model(trained_random_forest.model_dir)
    from_archive = common.load_model(random_forest_archive)
    from_archive_dir = common.load_model(random_forest_archive.parent)
    features = common.load_dataset(DATASET).features[:20]
    expected = from_dir.estimator.predict_proba(features)
    for loaded in (from_archive, from_archive_dir):
        np.testing.assert_array_equal(loaded.estimator.predict_proba(features), expected)
        assert loaded.feature_names == from_dir.feature_names
    with pytest.raises(ValueError, match="no model.joblib or model.tar.gz"):
        common.load_model(trained_random_forest.output_dir)


def _archive_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return archive


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("../escape.joblib", tarfile.REGTYPE, "'..'"),
        ("model/../../escape.joblib", tarfile.REGTYPE, "'..'"),
        ("/tmp/absolute.joblib", tarfile.REGTYPE, "absolute"),
        ("model.joblib", tarfile.SYMTYPE, "link"),
    ],
)
def test_unsafe_archive_members_are_refused(
    tmp_path: Path, name: str, kind: bytes, reason: str
) -> None:
    member = tarfile.TarInfo(name)
    member.type = kind
    if kind == tarfile.SYMTYPE:
        member.linkname = "/etc/passwd"
    archive = _archive_with(tmp_path, member)
    destination = tmp_path / "out"
    with pytest.raises(ValueError, match=reason):
        common.safe_extract(archive, destination)
    assert not destination.exists() or not any(destination.iterdir())


def test_archive_without_metadata_is_rejected(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    joblib.dump(common.build_model("random_forest", n_estimators=2), model_dir / "model.joblib")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "model.joblib", arcname="./model.joblib")
    with pytest.raises(ValueError, match="no metadata.json"):
        common.load_model(archive)
