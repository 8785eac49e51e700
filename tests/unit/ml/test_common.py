"""ml/common.py and ml/export_dataset.py: the shipped data, reading CSVs, the split, loading."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import common
import joblib
import numpy as np
import pytest
from problems import LabelEncoding
from sklearn.ensemble import RandomForestClassifier

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
WINE = DATASET.parent / "wine.csv"
DIABETES = DATASET.parent / "diabetes.csv"
HEADER = DATASET.read_text(encoding="utf-8").splitlines()[0]
ROWS = DATASET.read_text(encoding="utf-8").splitlines()[1:]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_committed_breast_cancer_dataset_is_binary_with_malignant_as_one() -> None:
    from sklearn.datasets import load_breast_cancer

    dataset = common.load_dataset(DATASET)
    assert dataset.features.shape == (569, 30)
    assert dataset.feature_names[:3] == ["mean_radius", "mean_texture", "mean_perimeter"]
    assert HEADER.split(",")[-1] == "malignant"
    bunch = load_breast_cancer()
    assert bunch.target_names[0] == "malignant"
    # sklearn: 212 malignant (its target 0), 357 benign; malignant is our label 1.
    assert dataset.label_values == ["1" if t == 0 else "0" for t in bunch.target]
    np.testing.assert_allclose(dataset.features, bunch.data, rtol=1e-12)


def test_committed_wine_dataset_has_three_named_classes() -> None:
    from sklearn.datasets import load_wine

    dataset = common.load_dataset(WINE, label="cultivar")
    assert dataset.features.shape == (178, 13)
    assert "od280_od315_of_diluted_wines" in dataset.feature_names
    bunch = load_wine()
    assert dataset.label_values == [str(bunch.target_names[t]) for t in bunch.target]
    assert sorted(set(dataset.label_values)) == ["class_0", "class_1", "class_2"]


def test_committed_diabetes_dataset_keeps_original_units_and_numeric_target() -> None:
    from sklearn.datasets import load_diabetes

    dataset = common.load_dataset(DIABETES, label="progression")
    bunch = load_diabetes(scaled=False)
    assert dataset.feature_names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    np.testing.assert_allclose(dataset.features, bunch.data, rtol=1e-9)
    np.testing.assert_allclose([float(v) for v in dataset.label_values], bunch.target)


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "diabetes"])
def test_export_reproduces_each_committed_csv_byte_for_byte(run_script, tmp_path, name) -> None:
    output = tmp_path / f"{name}.csv"
    args = ["--dataset", name, "--output", str(output)]
    result = run_script("export_dataset.py", args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == (DATASET.parent / f"{name}.csv").read_bytes()


def test_directory_input_reads_every_csv_and_aligns_column_order(tmp_path: Path) -> None:
    columns = HEADER.split(",")
    reordered = [columns[-1], *columns[:-1]]  # label first in the second file
    write_csv(tmp_path / "a.csv", HEADER, ROWS[:300])
    second = [",".join([r.split(",")[-1], *r.split(",")[:-1]]) for r in ROWS[300:]]
    write_csv(tmp_path / "b.csv", ",".join(reordered), second)
    merged = common.load_dataset(tmp_path)
    whole = common.load_dataset(DATASET)
    np.testing.assert_array_equal(merged.features, whole.features)
    assert merged.label_values == whole.label_values
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


def test_labels_are_read_as_written_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    rows = [r.rsplit(",", 1)[0] + (", yes" if r.endswith("1") else ",no") for r in ROWS[:60]]
    dataset = common.load_dataset(write_csv(tmp_path / "d.csv", HEADER, rows))
    assert set(dataset.label_values) == {"yes", "no"}  # stripped, not yet encoded
    rows[3] = rows[3].rsplit(",", 1)[0] + ", "
    with pytest.raises(ValueError, match=r"d\.csv:5: label 'malignant' is empty"):
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


def binary_targets() -> np.ndarray:
    dataset = common.load_dataset(DATASET)
    return LabelEncoding.fit("binary_classification", dataset.label_values).encode(
        dataset.label_values
    )


def test_split_is_deterministic_stratified_and_partitions_rows() -> None:
    labels = binary_targets()
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


def test_multiclass_split_keeps_every_class_share_and_regression_is_not_stratified() -> None:
    wine = common.load_dataset(WINE, label="cultivar")
    targets = LabelEncoding.fit("multiclass_classification", wine.label_values).encode(
        wine.label_values
    )
    _, test = common.split_indices(targets, 0.2, 42, "multiclass_classification")
    for target in range(3):
        assert abs((targets[test] == target).sum() - 0.2 * (targets == target).sum()) <= 1
    values = np.linspace(0.0, 1.0, 100)  # every value once: stratifying would fail
    train, test = common.split_indices(values, 0.25, 42, "regression")
    assert (len(train), len(test)) == (75, 25)


def test_split_rejects_single_class_rare_classes_and_bad_test_size() -> None:
    with pytest.raises(ValueError, match="both classes"):
        common.split_indices(np.zeros(100, dtype=int), 0.2, 42)
    with pytest.raises(ValueError, match=r"two rows or more to be split; classes \[2\]"):
        common.split_indices(np.array([0, 1] * 50 + [2]), 0.2, 42, "multiclass_classification")
    with pytest.raises(ValueError, match="test_size"):
        common.split_indices(np.array([0, 1] * 50), 1.5, 42)


def test_multiclass_probabilities_are_arranged_by_encoded_class() -> None:
    features = np.array([[0.0], [1.0], [2.0], [0.1], [1.1], [2.1]])
    targets = np.array([2, 0, 1, 2, 0, 1])  # the estimator keeps classes_ [0, 1, 2]
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, targets)
    found = common.predict(model, "multiclass_classification", features, classes=4)
    assert found.class_probabilities.shape == (6, 4)  # a class the data lacks is column 3 (0)
    np.testing.assert_array_equal(found.class_probabilities[:, 3], 0.0)
    np.testing.assert_array_equal(found.class_probabilities.argmax(axis=1), found.targets)


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
        assert loaded.encoding.to_dict() == from_dir.encoding.to_dict()
    with pytest.raises(ValueError, match="no model.joblib or model.tar.gz"):
        common.load_model(trained_random_forest.output_dir)


def test_a_model_from_before_problem_types_reads_as_binary_with_one_positive() -> None:
    loaded = common.LoadedModel(
        estimator=None, metadata={"feature_names": ["a"], "classes": [0, 1]}
    )
    assert loaded.encoding.to_dict() == {
        "problem_type": "binary_classification", "positive_label": "1", "negative_label": "0"
    }  # fmt: skip


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
    joblib.dump(RandomForestClassifier(n_estimators=2), model_dir / "model.joblib")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "model.joblib", arcname="./model.joblib")
    with pytest.raises(ValueError, match="no metadata.json"):
        common.load_model(archive)
