"""Problem types, their metrics (each with the direction that is better) and how labels are read.

The metric table is the product's definition of "better": evaluate.py scores with it and the
control plane's gate (layers/common/mlops_common/domain/problem.py keeps a copy, which a test
compares with this one) decides with it. Runs in the SageMaker scikit-learn container (older
Python): no match statements, annotations stay strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)
HIGHER = "higher"  # a larger value is better
LOWER = "lower"  # a smaller value is better (errors)

#: metric -> (direction, problem types it is defined for)
METRICS = {
    "f1": (HIGHER, (BINARY,)),
    "roc_auc": (HIGHER, (BINARY,)),
    "accuracy": (HIGHER, (BINARY, MULTICLASS)),
    "precision": (HIGHER, (BINARY,)),
    "recall": (HIGHER, (BINARY,)),
    "macro_f1": (HIGHER, (MULTICLASS,)),
    "balanced_accuracy": (HIGHER, (MULTICLASS,)),
    "rmse": (LOWER, (REGRESSION,)),
    "mae": (LOWER, (REGRESSION,)),
    "r2": (HIGHER, (REGRESSION,)),
}
DEFAULT_MAX_CLASSES = 20
_TRUE, _FALSE = ("true",), ("false",)


def metric_names(problem_type: str) -> list[str]:
    check_problem_type(problem_type)
    return [name for name, (_, types) in METRICS.items() if problem_type in types]


def direction(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; metrics are {sorted(METRICS)}")
    return METRICS[metric][0]


def check_problem_type(problem_type: str) -> None:
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"unknown problem type {problem_type!r}; choose one of {PROBLEM_TYPES}")


def check_metric(problem_type: str, metric: str) -> None:
    if metric not in metric_names(problem_type):
        raise ValueError(
            f"metric {metric!r} does not apply to {problem_type}; "
            f"use one of {metric_names(problem_type)}"
        )


def is_classification(problem_type: str) -> bool:
    check_problem_type(problem_type)
    return problem_type != REGRESSION


def canonical_label(text: str) -> str:
    """One spelling per label value: '1.0' and '1' are the same class, and so are 'True' and
    '1' (how pandas writes booleans). Anything else is kept as written, without the blanks."""
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


class LabelEncoding:
    """How the label column's text becomes what an estimator learns, and back.

    binary: the positive label (PositiveLabel, compared case-insensitively) -> 1, the other
    value -> 0; multiclass: each class -> its index in `classes`; regression: the number.
    """

    def __init__(
        self,
        problem_type: str,
        positive_label: str | None = None,
        negative_label: str | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        check_problem_type(problem_type)
        self.problem_type = problem_type
        self.positive_label = positive_label
        self.negative_label = negative_label
        self.classes = list(classes or [])

    # -- learning the encoding from training labels -------------------------------------
    @classmethod
    def fit(
        cls,
        problem_type: str,
        labels: Sequence[str],
        positive_label: str = "1",
        max_classes: int = DEFAULT_MAX_CLASSES,
    ) -> LabelEncoding:
        check_problem_type(problem_type)
        if problem_type == REGRESSION:
            return cls(problem_type)
        distinct = sorted({canonical_label(v) for v in labels}, key=_class_order)
        if problem_type == BINARY:
            positive = canonical_label(positive_label)
            others = [v for v in distinct if v.casefold() != positive.casefold()]
            if len(others) == len(distinct):
                raise ValueError(
                    f"the positive label {positive_label!r} does not occur among the labels "
                    f"{_shown(distinct)}"
                )
            if len(others) != 1:
                raise ValueError(
                    "binary classification needs exactly two label values, "
                    f"found {len(distinct)}: {_shown(distinct)}"
                )
            return cls(problem_type, positive_label=positive, negative_label=others[0])
        if len(distinct) < 2:
            raise ValueError(
                f"multiclass classification needs two classes or more, found {distinct}"
            )
        if len(distinct) > max_classes:
            raise ValueError(
                f"{len(distinct)} classes, more than max_classes={max_classes}: {_shown(distinct)}"
            )
        return cls(problem_type, classes=distinct)

    # -- using it -----------------------------------------------------------------------
    def encode(self, labels: Sequence[str]) -> np.ndarray:
        """Targets for the estimator. Binary and multiclass values outside the encoding are
        errors; regression values must be finite numbers."""
        if self.problem_type == REGRESSION:
            return np.asarray([_finite(v) for v in labels], dtype=np.float64)
        if self.problem_type == BINARY:
            positive, negative = self.positive_label or "", (self.negative_label or "").casefold()
            out = []
            for value in labels:
                text = canonical_label(value).casefold()
                if text not in (positive.casefold(), negative):
                    raise ValueError(
                        f"label {value!r} is neither {self.positive_label!r} (positive) nor "
                        f"{self.negative_label!r}"
                    )
                out.append(1 if text == positive.casefold() else 0)
            return np.asarray(out, dtype=np.int64)
        index = {name: i for i, name in enumerate(self.classes)}
        return np.asarray([index.get(canonical_label(v), -1) for v in labels], dtype=np.int64)

    def decode(self, target: Any) -> Any:
        """What the service answers: binary 0/1 (1 is the positive label), the class as in the
        data, or the number."""
        if self.problem_type == REGRESSION:
            return float(target)
        if self.problem_type == BINARY:
            return int(target)
        return self.classes[int(target)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"problem_type": self.problem_type}
        if self.problem_type == BINARY:
            out.update(positive_label=self.positive_label, negative_label=self.negative_label)
        elif self.problem_type == MULTICLASS:
            out["classes"] = list(self.classes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelEncoding:
        return cls(
            data["problem_type"],
            positive_label=data.get("positive_label"),
            negative_label=data.get("negative_label"),
            classes=data.get("classes"),
        )

    def comparable_with(self, other: LabelEncoding) -> str | None:
        """None when predictions of a model with `other` can be scored in this encoding, else
        the reason they cannot."""
        if other.problem_type != self.problem_type:
            return f"trained for {other.problem_type}, this run is {self.problem_type}"
        if self.problem_type == BINARY and (
            (other.positive_label or "").casefold() != (self.positive_label or "").casefold()
        ):
            return (
                f"its positive label is {other.positive_label!r}, this run's is "
                f"{self.positive_label!r}"
            )
        return None


def compute_metrics(
    problem_type: str,
    truth: np.ndarray,
    predicted: np.ndarray,
    positive_probability: np.ndarray | None = None,
) -> dict[str, float]:
    """Every metric of the problem type, in the order of METRICS. Targets are in one encoding
    (LabelEncoding.encode); binary needs P(positive) per row for roc_auc."""
    check_problem_type(problem_type)
    if problem_type == REGRESSION:
        mse = float(mean_squared_error(truth, predicted))
        return {
            "rmse": math.sqrt(mse),
            "mae": float(mean_absolute_error(truth, predicted)),
            "r2": float(r2_score(truth, predicted)),
        }
    if problem_type == MULTICLASS:
        return {
            "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        }
    if len(set(np.asarray(truth).tolist())) < 2:
        raise ValueError("metrics need both classes in the labels (roc_auc is undefined otherwise)")
    if positive_probability is None:
        raise ValueError("binary metrics need the probability of the positive label")
    kwargs = {"pos_label": 1, "zero_division": 0}
    return {
        "f1": float(f1_score(truth, predicted, **kwargs)),
        "roc_auc": float(roc_auc_score(truth, positive_probability)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, **kwargs)),
        "recall": float(recall_score(truth, predicted, **kwargs)),
    }


def _class_order(value: str) -> Any:
    """Numbers in numeric order before other labels in text order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def _finite(value: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"regression label {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"regression label {value!r} is not a finite number")
    return number


def _shown(values: Sequence[str], limit: int = 10) -> str:
    head = ", ".join(repr(v) for v in list(values)[:limit])
    return f"[{head}{', ...' if len(values) > limit else ''}]"
