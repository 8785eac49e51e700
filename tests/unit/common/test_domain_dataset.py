"""The dataset contract (validate_csv): what passes, and what an operator is told when not."""

import csv
import io
from pathlib import Path

import pytest
from mlops_common.domain import dataset
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
    assert validate_csv(csv_bytes(HEADER, balanced_rows(10)), LABEL, min_rows=4) == (10, 2)


def test_utf8_byte_order_mark_and_blank_lines_are_tolerated() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, balanced_rows(10)) + b"\n\n"
    assert validate_csv(data, LABEL, min_rows=4) == (10, 2)


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


def test_an_empty_label_is_reported_with_line_and_column() -> None:
    rows = balanced_rows(3)
    rows[1][2] = " "
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == "line 3: label 'malignant' is empty"


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
        "label 'malignant': binary classification needs exactly two classes, "
        f"found 1: ['{label_value}']"
    )


def test_custom_label_column_is_honoured() -> None:
    header = ["f1", "f2", "target"]
    assert validate_csv(csv_bytes(header, balanced_rows(10)), "target", min_rows=2) == (10, 2)


# ---- streaming, and parser limits that end in DatasetInvalid ----------------------------------


class Chunked(io.RawIOBase):
    """A binary stream that hands out at most `size` bytes per read and records each request
    (a botocore StreamingBody is read the same way)."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self.requests = data, size, []

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.requests.append(n)
        chunk, self._data = self._data[: min(n, self._size)], self._data[min(n, self._size) :]
        return chunk


def test_a_stream_is_read_in_bounded_chunks_never_whole() -> None:
    stream = Chunked(BREAST_CANCER_CSV.read_bytes(), size=7)
    assert validate_csv(stream, LABEL, min_rows=50) == (569, 30)
    assert stream.requests and all(0 < n <= dataset.CHUNK_BYTES for n in stream.requests)


def test_a_decoding_error_split_across_reads_names_its_offset_in_the_file() -> None:
    data = b"\xef\xbb\xbfmean_radius,malignant\n1,0\n" + "caf\u00e9,1\n".encode("latin-1")
    for size in (1, 2, 3, 5, 64):
        with pytest.raises(DatasetInvalid) as excinfo:
            validate_csv(Chunked(data, size), LABEL, min_rows=1)
        assert str(excinfo.value) == (
            f"the file is not UTF-8 text (invalid continuation byte at byte {len(data) - 4})"
        ), size


def test_a_truncated_multibyte_character_at_the_end_is_invalid() -> None:
    data = csv_bytes(HEADER, balanced_rows(2)) + "\u00e9".encode()[:1]
    with pytest.raises(DatasetInvalid, match=f"unexpected end of data at byte {len(data) - 1}"):
        validate_csv(data, LABEL, min_rows=1)


def test_a_field_over_the_limit_is_invalid_naming_the_line() -> None:
    # csv's own default limit is 128 KiB, past which it raised _csv.Error, not DatasetInvalid.
    rows = balanced_rows(3)
    rows[1][0] = '"' + "1" * (200 * 1024) + '"'
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == (
        f"line 3: a field is longer than {dataset.FIELD_SIZE_LIMIT} characters"
    )


def test_the_field_size_limit_is_put_back_for_the_rest_of_the_process() -> None:
    before = csv.field_size_limit()
    with pytest.raises(DatasetInvalid):
        validate_csv(b"a,malignant\n" + b"x" * (dataset.FIELD_SIZE_LIMIT + 1) + b",0\n", LABEL, 1)
    assert csv.field_size_limit() == before


def test_a_line_over_the_limit_is_invalid_before_it_is_held_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dataset, "MAX_LINE_CHARS", 100)
    data = csv_bytes(HEADER, balanced_rows(2)) + b"1," * 60 + b"0\n"
    with pytest.raises(DatasetInvalid, match="^line 4: longer than 100 characters$"):
        validate_csv(Chunked(data, 16), LABEL, min_rows=1)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"mean_radius,malignant\r1,0\r2,1\r", "line 1: a line ends in a bare carriage return"),
        (b'mean_radius,malignant\n"1,0\n2,1\n', "line 3: 1 columns, header has 2"),
    ],
    ids=["bare-carriage-returns", "unclosed-quote"],
)
def test_every_parser_failure_is_dataset_invalid_naming_the_line(data: bytes, problem: str) -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(data, LABEL, min_rows=1)
    assert str(excinfo.value).startswith(problem)


def test_quoted_fields_may_span_lines() -> None:
    data = b'mean_radius,"mean\ntexture",malignant\n' + b"1,2,0\n3,4,1\n" * 5
    assert validate_csv(data, LABEL, min_rows=2) == (10, 2)


def test_a_blank_first_line_is_not_a_header() -> None:
    with pytest.raises(DatasetInvalid, match="^line 1: the header row is blank$"):
        validate_csv(b"\n" + csv_bytes(HEADER, balanced_rows(4)), LABEL, min_rows=1)


def test_a_header_of_100000_columns_names_its_duplicates_in_one_pass() -> None:
    # The old check called list.count per column: quadratic, ~19 s for 40,000 columns. Time
    # is for bench/validation.py; this checks the answer at that size.
    names = [f"f{i}" for i in range(100_000)] + ["f7", "f3", "f3", LABEL]
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(",".join(names).encode() + b"\n", LABEL, min_rows=1)
    assert str(excinfo.value) == "duplicate columns in header: ['f3', 'f7']"


def test_more_than_five_duplicates_are_counted_not_listed() -> None:
    names = [f"c{i}" for i in range(8)] * 2 + [LABEL]
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(",".join(names).encode() + b"\n", LABEL, min_rows=1)
    assert str(excinfo.value) == (
        "duplicate columns in header: ['c0', 'c1', 'c2', 'c3', 'c4'] and 3 more"
    )


def test_finite_values_whose_sum_overflows_are_valid() -> None:
    # Rows are first checked by summing their features; an overflow there is no problem.
    rows = [[1e308, 1e308, i % 2] for i in range(10)]
    assert validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=4) == (10, 2)


def test_plus_and_minus_infinity_in_one_row_are_both_reported() -> None:
    rows = balanced_rows(2)
    rows[0][:2] = ["inf", "-inf"]
    with pytest.raises(DatasetInvalid) as excinfo:
        validate_csv(csv_bytes(HEADER, rows), LABEL, min_rows=1)
    assert str(excinfo.value) == (
        "line 2: feature 'mean_radius' is inf; line 2: feature 'mean_texture' is -inf"
    )
