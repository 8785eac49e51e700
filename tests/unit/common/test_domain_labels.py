"""The dataset contract's label rules per problem type (domain.labels, applied by validate_csv),
and the layer reading labels as the training jobs do (ml/problems.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlops_common.domain import labels
from mlops_common.domain.dataset import validate_csv
from mlops_common.domain.labels import LabelRules, canonical_label
from mlops_common.errors import DatasetInvalid
from test_domain_problem import ml_module

ROOT = Path(__file__).resolve().parents[3]
BINARY, MULTICLASS, REGRESSION = "binary_classification", "multiclass_classification", "regression"


def dataset(labels_: list[str], label: str = "y") -> bytes:
    lines = [f"a,b,{label}"] + [f"{i},{i * 0.5},{value}" for i, value in enumerate(labels_)]
    return ("\n".join(lines) + "\n").encode()


def check(labels_: list[str], rules: LabelRules, min_rows: int = 1) -> tuple[int, int]:
    return validate_csv(dataset(labels_), "y", min_rows, rules)


# ---- binary ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positive", "negative", "positive_label"),
    [
        ("yes", "no", "yes"),
        ("True", "False", "1"),
        ("True", "False", "True"),
        ("1.0", "0.0", "1"),
        ("M", "B", "M"),
        ("1", "0", "1"),
    ],
)
def test_binary_labels_in_the_spellings_teams_write_are_accepted(
    positive: str, negative: str, positive_label: str
) -> None:
    rules = LabelRules(BINARY, positive_label=positive_label)
    assert check([positive, negative] * 5, rules) == (10, 2)


def test_binary_with_a_third_class_is_refused_naming_the_classes() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        check(["0", "1", "2"] * 4, LabelRules(BINARY))
    assert str(excinfo.value) == (
        "label 'y': binary classification needs exactly two classes, found 3 or more: "
        "['0', '1', '2']"
    )


def test_binary_without_the_positive_label_is_refused_naming_positive_label() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        check(["yes", "no"] * 5, LabelRules(BINARY, positive_label="1"))
    assert str(excinfo.value) == (
        "label 'y': the positive label '1' (PositiveLabel) is not one of the two classes "
        "['no', 'yes']"
    )


def test_binary_true_false_and_one_zero_are_the_same_two_classes() -> None:
    assert check(["True", "0", "1.0", "False"] * 3, LabelRules(BINARY)) == (12, 2)


# ---- multiclass --------------------------------------------------------------------------------


def test_multiclass_wine_passes_with_its_three_cultivars() -> None:
    data = (ROOT / "ml" / "data" / "wine.csv").read_bytes()
    assert validate_csv(data, "cultivar", 50, LabelRules(MULTICLASS)) == (178, 13)


def test_multiclass_with_one_class_is_refused() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        check(["a"] * 10, LabelRules(MULTICLASS))
    assert str(excinfo.value) == (
        "label 'y': multiclass classification needs at least two classes, found ['a']"
    )


def test_multiclass_with_more_classes_than_max_classes_is_refused() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        check([f"c{i % 5}" for i in range(50)], LabelRules(MULTICLASS, max_classes=3))
    assert str(excinfo.value) == (
        "label 'y': 4 or more classes, more than MaxClasses 3: ['c0', 'c1', 'c2', 'c3']"
    )


def test_a_class_with_one_row_is_refused_by_the_split_rule() -> None:
    with pytest.raises(DatasetInvalid) as excinfo:
        check(["a", "b"] * 10 + ["rare"], LabelRules(MULTICLASS))
    assert str(excinfo.value) == (
        "label 'y': every class needs at least 2 rows for the stratified train/held-out split; "
        "too few rows of ['rare']"
    )


def test_too_few_held_out_rows_for_every_class_is_refused() -> None:
    # 12 rows hold out ceil(12 * 0.2) = 3 rows: not one of each of 4 classes.
    with pytest.raises(DatasetInvalid) as excinfo:
        check(["a", "b", "c", "d"] * 3, LabelRules(MULTICLASS))
    assert str(excinfo.value) == (
        "label 'y': 12 rows hold out 3 for evaluation and train on 9; the stratified split "
        "needs at least one row of each of the 4 classes on both sides"
    )


def test_counting_classes_stops_past_max_classes_so_memory_stays_bounded() -> None:
    rules = LabelRules(MULTICLASS, max_classes=3)
    with pytest.raises(DatasetInvalid, match="4 or more classes"):
        check([str(i) for i in range(10_000)], rules)


# ---- regression --------------------------------------------------------------------------------


def test_regression_diabetes_passes() -> None:
    data = (ROOT / "ml" / "data" / "diabetes.csv").read_bytes()
    assert validate_csv(data, "progression", 50, LabelRules(REGRESSION)) == (442, 10)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("high", "is 'high', not a number (regression)"),
        ("nan", "is nan, not a finite number"),
        ("-inf", "is -inf, not a finite number"),
    ],
)
def test_regression_label_must_be_a_finite_number(value: str, problem: str) -> None:
    values = [str(i * 1.5) for i in range(10)]
    values[3] = value
    with pytest.raises(DatasetInvalid) as excinfo:
        check(values, LabelRules(REGRESSION))
    assert str(excinfo.value) == f"line 5: label 'y' {problem}"


def test_regression_needs_no_classes() -> None:
    assert check(["3.5"] * 10, LabelRules(REGRESSION)) == (10, 2)


# ---- one reading of labels, the layer's and the training jobs' ---------------------------------

SPELLINGS = ["1", "0", "1.0", "0.0", "True", "False", "true", "FALSE", "yes", "no", "M", "B",
             " 2 ", "2.50", "-3", "1e3", "nan", "inf", "class_0", ""]  # fmt: skip


@pytest.mark.parametrize("text", SPELLINGS)
def test_the_layer_reads_a_label_as_ml_problems_does(text: str) -> None:
    assert canonical_label(text) == ml_module("problems").canonical_label(text)


@pytest.mark.parametrize(
    ("values", "positive_label"),
    [
        (["yes", "no"], "yes"),
        (["True", "False"], "1"),
        (["1.0", "0.0"], "True"),
        (["M", "B"], "M"),
        (["M", "B"], "1"),
        (["0", "1", "2"], "1"),
        (["a", "a"], "a"),
    ],
)
def test_binary_accepted_by_the_contract_exactly_when_training_can_encode_it(
    values: list[str], positive_label: str
) -> None:
    rows = values * 5
    problems = ml_module("problems")
    try:
        encoding = problems.LabelEncoding.fit(BINARY, rows, positive_label=positive_label)
    except ValueError:
        encoding = None
    try:
        check(rows, LabelRules(BINARY, positive_label=positive_label))
        accepted = True
    except DatasetInvalid:
        accepted = False
    assert accepted == (encoding is not None)
    if encoding is not None:  # the positive label maps to 1
        assert encoding.encode([values[0]]).tolist() == [1]


def test_the_held_out_share_is_the_training_jobs_test_size() -> None:
    assert ml_module("common").DEFAULT_TEST_SIZE == labels.HELD_OUT_SHARE
