"""The supervised problem a stack solves: problem types, their metrics and which way is better.

ml/problems.py is the definition the training and evaluation jobs use; the layer cannot import
ml/ (it ships separately), so METRICS is a copy, and tests/unit/common/test_domain_problem.py
checks that both tables agree.
"""

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationInvalid

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)
Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    direction: Direction  # which way is better
    problem_types: tuple[str, ...]
    lowest: float = 0.0  # the values the metric can take: a threshold outside is a mistake
    highest: float = 1.0


METRICS = {
    "f1": Metric("higher", (BINARY,)),
    "roc_auc": Metric("higher", (BINARY,)),
    "accuracy": Metric("higher", (BINARY, MULTICLASS)),
    "precision": Metric("higher", (BINARY,)),
    "recall": Metric("higher", (BINARY,)),
    "macro_f1": Metric("higher", (MULTICLASS,)),
    "balanced_accuracy": Metric("higher", (MULTICLASS,)),
    "rmse": Metric("lower", (REGRESSION,), highest=math.inf),  # in the label's units
    "mae": Metric("lower", (REGRESSION,), highest=math.inf),
    "r2": Metric("higher", (REGRESSION,), lowest=-math.inf),
}
MAX_CLASSES_LIMIT = 1000


def metric_names(problem_type: str) -> list[str]:
    return [name for name, metric in METRICS.items() if problem_type in metric.problem_types]


def direction(metric: str) -> Direction:
    return METRICS[metric].direction


def check_problem(
    problem_type: str,
    primary_metric: str,
    positive_label: str,
    max_classes: int,
    label_column: str = "label",
) -> None:
    """ConfigurationInvalid naming every way the problem definition is wrong."""
    if problem_type not in PROBLEM_TYPES:
        raise ConfigurationInvalid(
            f"ProblemType {problem_type!r} is not one of {list(PROBLEM_TYPES)}"
        )
    found = []
    if not _header_name(label_column):
        found.append(f"LabelColumn {label_column!r} cannot be a CSV column name (empty, blanks "
                     "around it, a comma or a quote)")  # fmt: skip
    if primary_metric not in metric_names(problem_type):
        found.append(
            f"PrimaryMetric {primary_metric!r} does not apply to {problem_type} "
            f"(its metrics: {', '.join(metric_names(problem_type))})"
        )
    if problem_type == BINARY and not _header_name(positive_label):
        found.append(f"PositiveLabel {positive_label!r} cannot be a label value (empty, blanks "
                     "around it, a comma or a quote)")  # fmt: skip
    if problem_type == MULTICLASS and not 2 <= max_classes <= MAX_CLASSES_LIMIT:
        found.append(f"MaxClasses {max_classes} is not between 2 and {MAX_CLASSES_LIMIT}")
    if found:
        raise ConfigurationInvalid("; ".join(found))


def check_gate(primary_metric: str, minimum_metric: float, improvement_margin: float) -> None:
    """MinimumMetric must be a value the metric can take (a floor when higher is better, a
    ceiling when lower is better); ImprovementMargin is a distance, in the metric's units.
    Call after check_problem (which knows the metric)."""
    metric = METRICS[primary_metric]
    found = []
    if not metric.lowest <= minimum_metric <= metric.highest:
        kind = "floor" if metric.direction == "higher" else "ceiling"
        found.append(
            f"MinimumMetric {minimum_metric} ({kind} of {primary_metric}) is outside the "
            f"values {primary_metric} takes, [{metric.lowest}, {metric.highest}]"
        )
    if improvement_margin < 0 or (
        metric.highest - metric.lowest < math.inf and improvement_margin > 1
    ):
        found.append(f"ImprovementMargin {improvement_margin} is not a distance {primary_metric} "
                     "can be improved by")  # fmt: skip
    if found:
        raise ConfigurationInvalid("; ".join(found))


def _header_name(text: str) -> bool:
    """A value a CSV cell holds as the dataset contract reads it (stripped, unquoted)."""
    return bool(text) and text == text.strip() and not set(text) & set(',"\r\n')
