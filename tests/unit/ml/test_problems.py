"""ml/problems.py: problem types, metrics with their directions, and how labels are read."""

from __future__ import annotations

import math

import numpy as np
import problems
import pytest
from problems import BINARY, MULTICLASS, REGRESSION, LabelEncoding, canonical_label


def test_each_problem_type_has_its_metrics_and_errors_are_lower_is_better() -> None:
    assert problems.metric_names(BINARY) == ["f1", "roc_auc", "accuracy", "precision", "recall"]
    assert problems.metric_names(MULTICLASS) == ["accuracy", "macro_f1", "balanced_accuracy"]
    assert problems.metric_names(REGRESSION) == ["rmse", "mae", "r2"]
    lower = {name for name in problems.METRICS if problems.direction(name) == problems.LOWER}
    assert lower == {"rmse", "mae"}


@pytest.mark.parametrize(
    ("problem", "metric"), [(BINARY, "rmse"), (REGRESSION, "f1"), (MULTICLASS, "roc_auc")]
)
def test_a_metric_of_another_problem_type_is_refused_naming_the_right_ones(problem, metric):
    with pytest.raises(ValueError, match=f"metric '{metric}' does not apply to {problem}; use"):
        problems.check_metric(problem, metric)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("1", "1"), ("1.0", "1"), (" 1 ", "1"), ("True", "1"), ("true", "1"), ("FALSE", "0"),
     ("0.0", "0"), ("-0.0", "0"), ("2.50", "2.5"), ("1e3", "1000"), ("yes", "yes"), ("M", "M"),
     ("class_0", "class_0"), ("nan", "nan")],
)  # fmt: skip
def test_label_spellings_pandas_writes_are_one_value(written: str, canonical: str) -> None:
    assert canonical_label(written) == canonical


@pytest.mark.parametrize(
    ("labels", "positive", "expected"),
    [
        (["1", "0", "1"], "1", [1, 0, 1]),
        (["1.0", "0.0", "1.0"], "1", [1, 0, 1]),  # floats as pandas writes an int column
        (["True", "False", "True"], "1", [1, 0, 1]),  # booleans as pandas writes them
        (["True", "False", "True"], "true", [1, 0, 1]),
        (["yes", "no", "Yes"], "yes", [1, 0, 1]),  # the positive label, in any case
        (["M", "B", "M"], "M", [1, 0, 1]),
        (["B", "M", "M"], "B", [1, 0, 0]),  # the positive label decides, not the spelling
    ],
)
def test_binary_labels_map_the_positive_label_to_one(labels, positive, expected) -> None:
    encoding = LabelEncoding.fit(BINARY, labels, positive)
    assert encoding.encode(labels).tolist() == expected
    assert encoding.decode(1) == 1 and encoding.decode(0) == 0


@pytest.mark.parametrize(
    ("labels", "positive", "message"),
    [
        (["yes", "no"], "1", "the positive label '1' does not occur among the labels"),
        (["1", "1"], "1", "exactly two label values, found 1"),
        (["0", "1", "2"], "1", r"exactly two label values, found 3: \['0', '1', '2'\]"),
    ],
)
def test_binary_labels_that_cannot_be_mapped_are_named(labels, positive, message) -> None:
    with pytest.raises(ValueError, match=message):
        LabelEncoding.fit(BINARY, labels, positive)


def test_a_binary_label_outside_the_learned_pair_is_refused() -> None:
    encoding = LabelEncoding.fit(BINARY, ["yes", "no"], "yes")
    with pytest.raises(ValueError, match="'maybe' is neither 'yes' \\(positive\\) nor 'no'"):
        encoding.encode(["maybe"])


def test_multiclass_classes_are_ordered_and_round_trip_through_metadata() -> None:
    encoding = LabelEncoding.fit(MULTICLASS, ["10", "2", "2.0", "1"])
    assert encoding.classes == ["1", "2", "10"]  # numbers in numeric order, one spelling
    assert encoding.encode(["2.0", "10", "3"]).tolist() == [1, 2, -1]  # -1: not a class
    again = LabelEncoding.from_dict(encoding.to_dict())
    assert again.classes == encoding.classes and again.decode(2) == "10"
    names = LabelEncoding.fit(MULTICLASS, ["class_1", "class_0", "class_2"])
    assert names.classes == ["class_0", "class_1", "class_2"]


def test_multiclass_needs_two_classes_and_at_most_max_classes() -> None:
    with pytest.raises(ValueError, match="two classes or more"):
        LabelEncoding.fit(MULTICLASS, ["a", "a"])
    labels = [str(i) for i in range(25)]
    with pytest.raises(ValueError, match="25 classes, more than max_classes=20"):
        LabelEncoding.fit(MULTICLASS, labels)
    assert len(LabelEncoding.fit(MULTICLASS, labels, max_classes=25).classes) == 25


def test_regression_labels_are_finite_numbers() -> None:
    encoding = LabelEncoding.fit(REGRESSION, ["1.5", "2"])
    assert encoding.encode([" 1.5", "2"]).tolist() == [1.5, 2.0]
    assert encoding.decode(np.float64(3.25)) == 3.25
    for bad, message in (("abc", "not a number"), ("inf", "not a finite number")):
        with pytest.raises(ValueError, match=message):
            encoding.encode([bad])


def test_models_are_comparable_only_for_the_same_problem_and_positive_label() -> None:
    binary = LabelEncoding.fit(BINARY, ["yes", "no"], "yes")
    assert binary.comparable_with(LabelEncoding(BINARY, positive_label="YES")) is None
    assert "positive label is 'no'" in binary.comparable_with(
        LabelEncoding(BINARY, positive_label="no")
    )
    assert binary.comparable_with(LabelEncoding(REGRESSION)) == (
        "trained for regression, this run is binary_classification"
    )


def test_binary_metrics_take_label_one_as_positive() -> None:
    truth = np.array([1, 1, 0, 0, 1])
    predicted = np.array([1, 0, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.2, 0.1, 0.8])
    metrics = problems.compute_metrics(BINARY, truth, predicted, p)
    assert list(metrics) == problems.metric_names(BINARY)
    assert metrics["precision"] == 1.0 and metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["roc_auc"] == 1.0
    flipped = problems.compute_metrics(BINARY, 1 - truth, predicted, p)
    assert flipped["recall"] == 0.0 and flipped["roc_auc"] == 0.0
    with pytest.raises(ValueError, match="both classes"):
        problems.compute_metrics(BINARY, np.ones(3), np.ones(3), np.ones(3))


def test_multiclass_metrics_average_classes_equally() -> None:
    truth = np.array([0, 0, 0, 0, 1, 2])
    predicted = np.array([0, 0, 0, 0, 0, 2])  # class 1 always missed
    metrics = problems.compute_metrics(MULTICLASS, truth, predicted)
    assert set(metrics) == set(problems.metric_names(MULTICLASS))
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 0 + 1) / 3)
    assert metrics["macro_f1"] == pytest.approx((0.8 / 0.9 + 0 + 1) / 3)


def test_regression_metrics_are_in_the_target_units() -> None:
    truth = np.array([10.0, 20.0, 30.0])
    metrics = problems.compute_metrics(REGRESSION, truth, np.array([12.0, 18.0, 30.0]))
    assert metrics["mae"] == pytest.approx(4 / 3)
    assert metrics["rmse"] == pytest.approx(math.sqrt(8 / 3))
    assert metrics["r2"] == pytest.approx(1 - 8 / 200)
