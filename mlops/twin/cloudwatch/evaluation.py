"""How a CloudWatch metric alarm is judged: the metric it watches, its datapoints per period,
and the state and reason they lead to (pure functions; alarms.py runs them on moto's records).

Semantics follow the CloudWatch user guide, "Using Amazon CloudWatch alarms" (pages cited by
name): alarm-evaluation (Period, EvaluationPeriods, DatapointsToAlarm), alarms-and-missing-data
(TreatMissingData and its table), percentile-based alarms and low data samples, and
cloudwatch-and-eventbridge (the "CloudWatch Alarm State Change" event). Simplifications:
- The evaluation range is exactly the last EvaluationPeriods periods ending at `now`; CloudWatch
  aligns periods to the clock and looks further back when points are missing.
- Time is compressed: a Period covers Period * time_scale real seconds of datapoints (Period 600
  at time_scale 0.01 is 6 s). Reasons and events show the configured Period, real timestamps.
- Percentiles use nearest rank on raw values (CloudWatch's are approximations).
- Metric math is evaluated only when the returned series is one MetricStat, or an expression
  that is just the id of one. Real math, anomaly bands, composite alarms, trimmed-mean style
  statistics are left alone; alarm actions (SNS, Auto Scaling) are never run.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.cloudwatch.models import Alarm, MetricAggregatedDatum, MetricDatum

BASIC_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")
_OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": ("greater than", operator.gt),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", operator.ge),
    "LessThanThreshold": ("less than", operator.lt),
    "LessThanOrEqualToThreshold": ("less than or equal to", operator.le),
}
Decision = tuple[str, str]  # (new state, StateReason)


@dataclass(frozen=True)
class Spec:
    """An alarm as evaluated: the one metric it watches (from its classic fields or simple
    Metrics) and its evaluation settings."""

    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    stat: str
    period: int
    unit: str | None
    periods: int  # EvaluationPeriods
    to_alarm: int  # DatapointsToAlarm, default EvaluationPeriods
    treat: str  # TreatMissingData, default "missing"
    comparison: str
    threshold: float
    ignore_low_samples: bool  # EvaluateLowSampleCountPercentile == "ignore"


@dataclass(frozen=True)
class Point:
    start: datetime  # naive UTC, as moto stores datapoint timestamps
    value: float | None  # None: no datapoint in this period
    samples: float = 0.0
    low_sample: bool = False


def _num(value: float) -> str:
    return repr(float(value))  # as Java's Double.toString writes ordinary values: 0.5, 1.0


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def dimension_set(dimensions: list[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((d.name, d.value) for d in dimensions)


def returns_data(query: Any) -> bool:
    return query.return_data in (True, None, "true")  # ReturnData defaults to true


def _percentile(stat: str) -> float | None:
    match = _PERCENTILE.match(stat)
    return float(match.group(1)) if match else None


def spec_of(alarm: Alarm) -> Spec | None:
    """What to evaluate, or None for alarms this seam leaves alone (module docstring)."""
    if alarm.rule is not None or alarm.threshold_metric_id or not alarm.evaluation_periods:
        return None  # composite alarm, anomaly detection band, or incomplete
    if alarm.comparison_operator not in _OPERATORS:
        return None
    if not alarm.metric_data_queries:
        metric = (alarm.namespace, alarm.metric_name, alarm.dimensions)
        stat, period, unit = alarm.extended_statistic or alarm.statistic, alarm.period, alarm.unit
    else:
        queries = {q.id: q for q in alarm.metric_data_queries}
        returned = [q for q in alarm.metric_data_queries if returns_data(q)]
        query = returned[0] if len(returned) == 1 else None
        if query is not None and query.metric_stat is None and query.expression in queries:
            query = queries[query.expression]  # "e1 = m1" is an alias, not math
        if query is None or query.metric_stat is None:
            return None
        s = query.metric_stat
        metric = (s.metric.namespace, s.metric.metric_name, s.metric.dimensions)
        stat, period, unit = s.stat, s.period, s.unit
    if not period or not stat or (stat not in BASIC_STATISTICS and _percentile(stat) is None):
        return None
    periods = int(alarm.evaluation_periods)
    return Spec(
        metric[0],
        metric[1],
        dimension_set(metric[2]),
        stat,
        int(period),
        unit,
        periods,
        int(alarm.datapoints_to_alarm or periods),
        alarm.treat_missing_data or "missing",
        alarm.comparison_operator,
        float(alarm.threshold),
        alarm.evaluate_low_sample_count_percentile == "ignore",
    )


def aggregate(stat: str, datums: list[Any]) -> tuple[float | None, float, bool]:
    """(value, sample count, too few samples) of one period's datapoints. Statistic sets count
    for percentiles only when all their samples are equal (CloudWatch concepts, Percentiles)."""
    singles = [d.value for d in datums if isinstance(d, MetricDatum)]
    sets = [d for d in datums if isinstance(d, MetricAggregatedDatum)]
    count = len(singles) + sum(s.sample_count for s in sets)
    if count == 0:
        return None, 0.0, False
    if stat in BASIC_STATISTICS:
        total = sum(singles) + sum(s.sum for s in sets)
        value = {
            "SampleCount": count,
            "Sum": total,
            "Average": total / count,
            "Minimum": min(singles + [s.min for s in sets]),
            "Maximum": max(singles + [s.max for s in sets]),
        }[stat]
        return float(value), float(count), False
    rank = (_percentile(stat) or 0.0) / 100
    values = list(singles)
    for s in sets:
        if s.min == s.max and math.isclose(s.sum, s.min * s.sample_count):
            values.extend([s.min] * int(s.sample_count))
    if not values:
        return None, float(count), False
    values.sort()
    # Too few samples: under 10/(1-p) for p in [0.5, 1), under 10/p below 0.5.
    needed = 10 / (1 - rank) if 0.5 <= rank < 1 else (10 / rank if 0 < rank < 0.5 else 0)
    value = values[max(1, math.ceil(rank * len(values))) - 1]  # nearest rank
    return value, float(len(values)), len(values) < needed


def decide(spec: Spec, points: list[Point], current: str) -> Decision | None:
    """The new state and its reason, or None to keep `current` (alarms-and-missing-data)."""
    decision = _judge(spec, points, current)
    return None if decision is None or decision[0] == current else decision


def _judge(spec: Spec, points: list[Point], current: str) -> Decision | None:
    periods, to_alarm, treat, threshold = spec.periods, spec.to_alarm, spec.treat, spec.threshold
    if spec.ignore_low_samples and any(p.low_sample for p in points):
        return None  # "the alarm state does not change" (PutMetricAlarm API reference)
    present = [p for p in points if p.value is not None]
    if not present:
        if treat == "ignore":  # "the current alarm state is maintained"
            return None
        if treat == "missing":  # all points in the range missing: INSUFFICIENT_DATA
            return (
                "INSUFFICIENT_DATA",
                f"Insufficient Data: {_n(periods, 'datapoint')} {_was(periods)} unknown.",
            )
        new, label = ("ALARM", "Breaching") if treat == "breaching" else ("OK", "NonBreaching")
        return new, (
            f"Threshold Crossed: no datapoints were received for {_n(periods, 'period')}"
            f" and {_n(periods, 'missing datapoint')} {_was(periods)} treated as "
            f"[{label}]."
        )
    if treat == "ignore" and points[-1].value is None:
        return None  # newest point missing: the missing-data table keeps the state
    words, compare = _OPERATORS[spec.comparison]
    bad = sum(1 for p in present if compare(p.value, threshold))
    if treat in ("breaching", "notBreaching"):  # fill the missing points, then M out of N
        considered = periods
        bad += periods - len(present) if treat == "breaching" else 0
    else:  # missing / ignore: judge the points that exist (the table's "- - X - -" is ALARM)
        considered, to_alarm = len(present), min(to_alarm, len(present))
    new = "ALARM" if bad >= to_alarm else "OK"
    breach = new == "ALARM"
    count = bad if breach else considered - bad
    minimum = to_alarm if breach else considered - to_alarm + 1
    shown = ", ".join(
        f"{_num(p.value)} ({p.start:%d/%m/%y %H:%M:%S})"
        for p in reversed(present)
        if compare(p.value, threshold) == breach
    )
    return new, (
        f"Threshold Crossed: {count} out of the last {considered} datapoints [{shown}] "
        f"{_was(count)} {'' if breach else 'not '}{words} the threshold "
        f"({_num(threshold)}) (minimum {_n(minimum, 'datapoint')} for {current} -> "
        f"{new} transition)."
    )
