"""The label column's part of the dataset contract: what the values must be for the stack's
problem type (ProblemType, PositiveLabel, MaxClasses), and how they are read.

Labels are read the way the training jobs read them: ml/problems.py's `canonical_label` is the
definition (one spelling per value: `1.0` and `True` are `1`, `0.0` and `False` are `0`), and
a binary label is positive when it equals PositiveLabel, read the same way, ignoring case. The
layer cannot import ml/ (it ships separately), so `canonical_label` here is a copy, and
tests/unit/common/test_domain_labels.py checks that both give the same answer for every
spelling the contract names.

The class rules follow the split every training job makes (ml/common.py `split_indices`): a
stratified split (scikit-learn `train_test_split` with `stratify`) that holds out HELD_OUT_SHARE
of the rows puts every class in both parts, so it needs MIN_ROWS_PER_CLASS rows of each class,
and at least one held-out row and one training row per class.
"""

import math
from collections import Counter
from dataclasses import dataclass

from ..errors import DatasetInvalid
from .problem import BINARY, REGRESSION

#: Rows each class needs so the stratified split can put it on both sides.
MIN_ROWS_PER_CLASS = 2
#: The share of rows the split holds out for evaluation (ml/common.py DEFAULT_TEST_SIZE).
HELD_OUT_SHARE = 0.2
MAX_SHOWN = 8
_TRUE, _FALSE = ("true",), ("false",)


def canonical_label(text: str) -> str:
    """One spelling per label value (a copy of ml/problems.py `canonical_label`)."""
    value = str(text).strip()
    if value.lower() in _TRUE:
        return "1"
    if value.lower() in _FALSE:
        return "0"
    try:
        number = float(value)
    except ValueError:
        return value
    if not math.isfinite(number):
        return value
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


@dataclass(frozen=True)
class LabelRules:
    """The stack's problem, as far as the label column is concerned."""

    problem_type: str = BINARY
    positive_label: str = "1"
    max_classes: int = 20

    @property
    def classified(self) -> bool:
        return self.problem_type != REGRESSION

    @property
    def most_classes_tracked(self) -> int:
        """Distinct values kept while streaming: one past the most the problem allows, enough
        to say there are too many without holding every value of a column that is no class."""
        return (2 if self.problem_type == BINARY else self.max_classes) + 1

    def problem(self, value: str) -> str | None:
        """What is wrong with one label value (stripped), or None."""
        if not value:
            return "is empty"
        if self.classified:
            return None
        try:
            number = float(value)
        except ValueError:
            return f"is {value[:40]!r}, not a number (regression)"
        return None if math.isfinite(number) else f"is {value}, not a finite number"

    def check_classes(self, label: str, classes: Counter, rows: int) -> None:
        """DatasetInvalid unless the classes (canonical value -> rows) suit the problem type;
        `classes` holds at most most_classes_tracked values."""
        if not self.classified:
            return
        shown = _shown(classes)
        if self.problem_type == BINARY:
            positive = canonical_label(self.positive_label).casefold()
            if len(classes) != 2:
                raise DatasetInvalid(
                    f"label '{label}': binary classification needs exactly two classes, "
                    f"found {_count(classes, self)}: {shown}"
                )
            if positive not in {value.casefold() for value in classes}:
                raise DatasetInvalid(
                    f"label '{label}': the positive label {self.positive_label!r} "
                    f"(PositiveLabel) is not one of the two classes {shown}"
                )
        elif len(classes) < 2:
            raise DatasetInvalid(
                f"label '{label}': multiclass classification needs at least two classes, "
                f"found {shown}"
            )
        elif len(classes) > self.max_classes:
            raise DatasetInvalid(
                f"label '{label}': {_count(classes, self)} classes, more than MaxClasses "
                f"{self.max_classes}: {shown}"
            )
        rare = sorted(value for value, n in classes.items() if n < MIN_ROWS_PER_CLASS)
        if rare:
            raise DatasetInvalid(
                f"label '{label}': every class needs at least {MIN_ROWS_PER_CLASS} rows for the "
                f"stratified train/held-out split; too few rows of {rare[:MAX_SHOWN]}"
            )
        held_out = math.ceil(rows * HELD_OUT_SHARE)
        if min(held_out, rows - held_out) < len(classes):
            raise DatasetInvalid(
                f"label '{label}': {rows} rows hold out {held_out} for evaluation and train on "
                f"{rows - held_out}; the stratified split needs at least one row of each of the "
                f"{len(classes)} classes on both sides"
            )


def _count(classes: Counter, rules: LabelRules) -> str:
    return (
        f"{len(classes)} or more"
        if len(classes) >= rules.most_classes_tracked
        else str(len(classes))
    )


def _shown(classes: Counter) -> str:
    names = sorted(classes)
    more = len(names) - MAX_SHOWN
    return str(names[:MAX_SHOWN]) + (f" and {more} more" if more > 0 else "")
