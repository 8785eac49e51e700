"""CloudWatch metric-alarm evaluation for the twin: moto 5.2.5 stores alarms, never evaluates them.

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

import json
import logging
import math
import operator
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import Alarm, MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from mlops.twin.events.delivery import put_aws_event

log = logging.getLogger(__name__)

SOURCE, DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
MOTO_INITIAL_REASON = "Unchecked: Initial alarm creation"  # moto's Alarm.__init__ (state "OK")
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


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aws_time(moment: datetime) -> str:
    """CloudWatch's form in reasons and events: 2019-10-02T17:04:40.989+0000."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def _num(value: float) -> str:
    return repr(float(value))  # as Java's Double.toString writes ordinary values: 0.5, 1.0


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _dims(dimensions: list[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((d.name, d.value) for d in dimensions)


def _returns(query: Any) -> bool:
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
        returned = [q for q in alarm.metric_data_queries if _returns(q)]
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
        _dims(metric[2]),
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


class AlarmEvaluator:
    """Evaluates every metric alarm in moto's CloudWatch backend of one account and region.

    time_scale: real seconds per AWS second. An alarm Period of 60 s is evaluated over
    60 * time_scale real seconds of datapoints (pass the LocalCloud's time_scale).
    interval_s: real seconds between evaluations of the background thread (start/stop).
    emit_events: put a "CloudWatch Alarm State Change" event on the default bus per change.
    """

    def __init__(
        self,
        account: str,
        region: str,
        time_scale: float = 1.0,
        interval_s: float = 0.5,
        emit_events: bool = True,
    ) -> None:
        if time_scale <= 0 or interval_s <= 0:
            raise ValueError("time_scale and interval_s must be positive")
        self.account, self.region = account, region
        self.time_scale, self.interval_s, self.emit_events = time_scale, interval_s, emit_events
        self._lock = threading.Lock()  # one evaluation at a time: the thread and direct callers
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="twin-alarms", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.evaluate_once()
            except Exception:  # one bad evaluation must not end evaluation for the run
                log.exception("alarm evaluation failed")
            self._stopping.wait(self.interval_s)

    def evaluate_once(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every metric alarm at `now` (default: the clock). Returns the changes made:
        {alarmName, alarmArn, previousState, state, reason, reasonData (dict), timestamp}."""
        moment = now or datetime.now(UTC)
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        backend = cloudwatch_backends[self.account][self.region]
        changes = []
        with self._lock:
            # list() of a dict view or of a list runs in C under the GIL: a consistent snapshot
            # while moto's server threads append datapoints and replace alarms.
            alarms, datums = list(backend.alarms.values()), list(backend.metric_data)
            specs = [(alarm, spec) for alarm in alarms if (spec := spec_of(alarm)) is not None]
            by_metric: dict[tuple[str, str], list[Any]] = {
                (spec.namespace, spec.name): [] for _, spec in specs
            }
            for datum in datums:  # one pass over the (ever growing) datapoint list
                found = by_metric.get((datum.namespace, datum.name))
                if found is not None:
                    found.append(datum)
            for alarm, spec in specs:
                if alarm.state_reason == MOTO_INITIAL_REASON and not alarm.history:
                    # CloudWatch starts new alarms in INSUFFICIENT_DATA, moto in OK. A correction,
                    # not a transition: no history entry, no event.
                    alarm.state_value = "INSUFFICIENT_DATA"
                points = self._points(spec, by_metric[(spec.namespace, spec.name)], moment)
                decision = decide(spec, points, str(alarm.state_value))
                if decision is not None and backend.alarms.get(alarm.name) is alarm:
                    changes.append(self._apply(alarm, spec, points, decision, moment))
        return changes

    def _points(self, spec: Spec, datums: list[Any], now: datetime) -> list[Point]:
        """The last EvaluationPeriods periods ending at `now`, oldest first."""
        width = timedelta(seconds=spec.period * self.time_scale)
        end = _naive_utc(now)
        starts = [end - width * (spec.periods - i) for i in range(spec.periods)]
        mine = [
            (t, d)
            for d in datums
            if starts[0] <= (t := _naive_utc(d.timestamp)) < end
            and _dims(d.dimensions) == spec.dimensions  # extra dimensions: another metric
            and (spec.unit is None or d.unit == spec.unit)
        ]
        return [
            Point(start, *aggregate(spec.stat, [d for t, d in mine if start <= t < start + width]))
            for start in starts
        ]

    def _apply(
        self, alarm: Alarm, spec: Spec, points: list[Point], decision: Decision, now: datetime
    ) -> dict[str, Any]:
        new, reason = decision
        data = _reason_data(spec, points, float(alarm.threshold), now)
        previous = {
            "value": alarm.state_value,
            "reason": alarm.state_reason,
            "timestamp": _aws_time(alarm.state_updated_timestamp),
        }
        if alarm.state_reason_data and alarm.state_reason_data != "{}":
            previous["reasonData"] = alarm.state_reason_data
        reason_data = json.dumps(data, separators=(",", ":"))
        alarm.update_state(reason, reason_data, new)  # moto keeps the old state in .history
        alarm.state_updated_timestamp = _naive_utc(now)  # the evaluation time, not the clock
        if self.emit_events:
            state = {
                "value": new,
                "reason": reason,
                "reasonData": reason_data,
                "timestamp": _aws_time(now),
            }
            configuration: dict[str, Any] = {"metrics": _event_metrics(alarm, spec)}
            if alarm.description:
                configuration = {"description": alarm.description, **configuration}
            detail = {
                "alarmName": alarm.name,
                "configuration": configuration,
                "previousState": previous,
                "state": state,
            }
            try:
                put_aws_event(
                    self.account,
                    self.region,
                    SOURCE,
                    DETAIL_TYPE,
                    detail,
                    [alarm.alarm_arn],
                    time=now,
                )
            except Exception:  # the state change stands; a lost event is logged
                log.exception("could not emit %s for %s", DETAIL_TYPE, alarm.name)
        return {
            "alarmName": alarm.name,
            "alarmArn": alarm.alarm_arn,
            "previousState": previous["value"],
            "state": new,
            "reason": reason,
            "reasonData": data,
            "timestamp": now,
        }


def _reason_data(
    spec: Spec, points: list[Point], threshold: float, now: datetime
) -> dict[str, Any]:
    """StateReasonData as the cloudwatch-and-eventbridge examples show it. Inferred: newest
    first in evaluatedDatapoints, and a percentile named in "statistic"."""
    present = [p for p in points if p.value is not None]
    data: dict[str, Any] = {"version": "1.0", "queryDate": _aws_time(now)}
    if present:
        data["startDate"] = _aws_time(present[0].start)
    if spec.unit:
        data["unit"] = spec.unit
    data.update(
        statistic=spec.stat,
        period=spec.period,
        recentDatapoints=[p.value for p in present],
        threshold=threshold,
    )
    data["evaluatedDatapoints"] = [
        {"timestamp": _aws_time(p.start)}
        | ({"sampleCount": p.samples, "value": p.value} if p.value is not None else {})
        for p in reversed(points)
    ]
    return data


def _metric_stat(
    namespace: str, name: str, dimensions: list[Any], period: int, stat: str
) -> dict[str, Any]:
    return {
        "metric": {
            "dimensions": {d.name: d.value for d in dimensions},
            "name": name,
            "namespace": namespace,
        },
        "period": period,
        "stat": stat,
    }


def _event_metrics(alarm: Alarm, spec: Spec) -> list[dict[str, Any]]:
    """configuration.metrics: one MetricStat for a single-metric alarm (AWS's id is a random
    UUID; here a stable one from the ARN), else the alarm's own queries."""
    if not alarm.metric_data_queries:
        return [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": _metric_stat(
                    spec.namespace, spec.name, alarm.dimensions, spec.period, spec.stat
                ),
                "returnData": True,
            }
        ]
    out = []
    for query in alarm.metric_data_queries:
        entry: dict[str, Any] = {"id": query.id}
        if query.metric_stat is not None:
            s = query.metric_stat
            entry["metricStat"] = _metric_stat(
                s.metric.namespace, s.metric.metric_name, s.metric.dimensions, int(s.period), s.stat
            )
        if query.expression:
            entry["expression"] = query.expression
        if query.label:
            entry["label"] = query.label
        out.append(entry | {"returnData": _returns(query)})
    return out
