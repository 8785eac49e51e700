"""The dataset contract (validate_csv): what passes, and what an operator is told when not."""

from pathlib import Path

import pytest
from mlops_common.domain.dataset import MAX_REPORTED_PROBLEMS, validate_csv
from mlops_common.errors import DatasetInvalid

BREAST_CANCER_CSV = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
LABEL = "malignant"


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def balanced_rows(count: int, features: int = 2) -> list[list[object]]:
    """`count` valid rows alternating label 1 / 0."""
    return [[round(0.5 + i + f, 3) for f in range(features)] + [i % 2] for i in range(count)]


HEADER = ["mean_radius", "mean_texture", LABEL]


def test_real_breast_cancer_dataset_passes_with_569_rows_and_30_features() -> None:
    assert validate_csv(BREAST_CANCER_CSV.read_bytes(), LABEL, min_rows=50) == (569, 30)


def test_small_valid_dataset_returns_rows_and_feature_count() -> None:
    assert validate_csv(csv_bytes(HEADER, balanced_rows(4)), LABEL, min_rows=4) == (4, 2)


def test_utf8_byte_order_mark_and_blank_lines_are_tolerated() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, balanced_rows(4)) + b"\n\n"
    assert validate_csv(data, LABEL, min_rows=4) == (4, 2)


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t"], ids=["zero-bytes", "whitespace-only"])
def test_empty_file_is_invalid(data: bytes) -> None:
    with pytest.raises(DatasetInvalid, match="^the file is empty$"):
        validate_csv(data, LABEL, min_rows=1)


def test_file_with_only_a_byte_order_mark_is_invalid() -> None:
    with pytest.raises(DatasetInvalid, match="empty"):
        validate_csv(b"\xef\xbb\xbf", LABEL, min_rows=1)


def test_non_utf8_file_names_the_encoding_problem_and_byte_offset() -> None:
    data = b"mean_radius,malignant\n1,0\n" + "caf\u00e9,1\n".encode("latin-1")
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(data, LABEL, min_rows=1)
    assert str(excinfo.value) == (
        f"the file is not UTF-8 text (invalid continuation byte at byte {len(data) - 4})"
    )


def test_missing_label_column_names_the_label_and_shows_the_header() -> None:
    data = csv_bytes(["mean_radius", "diagnosis"], [[1.0, 0], [2.0, 1]])
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(data, LABEL, min_rows=1)
    assert str(excinfo.value) == (
        "no label column 'malignant' in header ['mean_radius', 'diagnosis']"
    )


def test_header_with_only_the_label_has_no_features() -> None:
    with pytest.raises(DatasetInvalid, match="^the header has no feature columns$"):
        validate_csv(csv_bytes([LABEL], [[0], [1]]), LABEL, min_rows=1)


def test_empty_column_name_in_header_is_invalid() -> None:
    with pytest.raises(DatasetInvalid, match="^the header has an empty column name$"):
        validate_csv(csv_bytes(["mean_radius", "", LABEL], [[1, 2, 0]]), LABEL, min_rows=1)


def test_duplicate_header_names_every_duplicated_column() -> None:
    header = ["mean_radius", "mean_texture", "mean_radius", "mean_texture", LABEL]
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(header, [[1, 2, 3, 4, 0]]), LABEL, min_rows=1)
    assert str(excinfo.value) == "duplicate columns in header: ['mean_radius', 'mean_texture']"


def test_non_numeric_feature_names_line_column_and_value() -> None:
    # Given row 3 of the data (line 4 of the file, the header is line 1) has a text feature
    rows = balanced_rows(4)
    rows[2][1] = "abc"
    # When / Then
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == "line 4: feature 'mean_texture' is not numeric ('abc')"


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_feature_is_reported_with_line_and_column(value: str) -> None:
    rows = balanced_rows(3)
    rows[0][0] = value
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == f"line 2: feature 'mean_radius' is {value}"


def test_label_outside_zero_and_one_is_reported() -> None:
    rows = balanced_rows(3)
    rows[1][2] = "2"
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == "line 3: label 'malignant' is '2', expected 0 or 1"


def test_wrong_column_count_names_the_line_and_both_counts() -> None:
    data = csv_bytes(HEADER, balanced_rows(2)) + b"1.0,0\n"
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(data, LABEL, min_rows=1)
    assert str(excinfo.value) == "line 4: 2 columns, header has 3"


def test_problems_are_joined_and_capped_so_the_message_stays_readable() -> None:
    # Given every one of 8 rows has a text feature
    rows = [["x", 1.0, i % 2] for i in range(8)]
    # When
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    # Then the first five problems are reported, in file order
    problems = str(excinfo.value).split("; ")
    assert len(problems) == MAX_REPORTED_PROBLEMS == 5
    expected = [f"line {n}: feature 'mean_radius' is not numeric ('x')" for n in range(2, 7)]
    assert problems == expected


def test_too_few_rows_states_the_count_and_the_minimum() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, balanced_rows(49)), LABEL, min_rows=50)
    assert str(excinfo.value) == "49 data rows; the contract needs at least 50"


def test_header_only_file_has_zero_rows() -> None:
    with pytest.raises(DatasetInvalid, match="^0 data rows; the contract needs at least 50$"):
        validate_csv(csv_bytes(HEADER, []), LABEL, min_rows=50)


@pytest.mark.parametrize("label_value", [0, 1])
def test_single_class_dataset_names_the_label_and_the_classes_seen(label_value: int) -> None:
    rows = [[1.0, 2.0, label_value] for _ in range(5)]
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == (
        f"label column 'malignant' must contain both 0 and 1, got ['{label_value}']"
    )


def test_custom_label_column_is_honoured() -> None:
    header = ["f1", "f2", "target"]
    assert validate_csv(csv_bytes(header, balanced_rows(4)), "target", min_rows=2) == (4, 2)
