"""CloudWatch metric alarms evaluated for the twin: moto 5.2.5 stores alarms, never evaluates
them. `AlarmEvaluator` judges every metric alarm of moto's backend on a background thread (the
rules: evaluation.py) and records each change as CloudWatch does: the alarm's state, reason,
reason data and history (history.py), and a "CloudWatch Alarm State Change" event on the
default bus (user guide, cloudwatch-and-eventbridge).

The thread judges the periods that end at the latest moment every publisher has flushed
(`settled_until`): a datapoint made before that moment is in moto, so a period is empty only if
nothing happened in it, whatever the machine's load and whatever the clock scale (cadence.py).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import Alarm, cloudwatch_backends

from mlops.twin.aws.timestamps import as_utc, cloudwatch_time, naive_utc
from mlops.twin.cloudwatch.cadence import evaluation_interval
from mlops.twin.cloudwatch.evaluation import (
    Decision,
    Point,
    Spec,
    aggregate,
    decide,
    dimension_set,
    returns_data,
    spec_of,
)
from mlops.twin.cloudwatch.history import AlarmHistory
from mlops.twin.cloudwatch.index import MetricIndex
from mlops.twin.events.emit import put_aws_event
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)

SOURCE, DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
MOTO_INITIAL_REASON = "Unchecked: Initial alarm creation"  # moto's Alarm.__init__ (state "OK")


class AlarmEvaluator(Seam):
    """Evaluates every metric alarm in moto's CloudWatch backend of one account and region.

    time_scale: real seconds per AWS second. An alarm Period of 60 s is evaluated over
    60 * time_scale real seconds of datapoints (pass the LocalCloud's time_scale).
    interval_s: real seconds between evaluations of the background thread (install/uninstall);
    by default cadence.evaluation_interval(time_scale).
    emit_events: put a "CloudWatch Alarm State Change" event on the default bus per change.
    history: where state changes are recorded for DescribeAlarmHistory.
    settled_until: one callable per publisher of datapoints, each the moment up to which all
    its datapoints are in moto (None: no promise yet); the thread evaluates at the earliest.
    """

    def __init__(
        self,
        account: str,
        region: str,
        time_scale: float = 1.0,
        interval_s: float | None = None,
        emit_events: bool = True,
        history: AlarmHistory | None = None,
        settled_until: Sequence[Callable[[], datetime | None]] = (),
    ) -> None:
        interval_s = evaluation_interval(time_scale) if interval_s is None else interval_s
        if time_scale <= 0 or interval_s <= 0:
            raise ValueError("time_scale and interval_s must be positive")
        self.account, self.region = account, region
        self.time_scale, self.interval_s, self.emit_events = time_scale, interval_s, emit_events
        self.history = history
        self._settled_until = tuple(settled_until)
        self._index = MetricIndex()
        self._lock = threading.Lock()  # one evaluation at a time: the thread and direct callers
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        """Start evaluating every interval_s on a background thread."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="twin-alarms", daemon=True)
            self._thread.start()

    def uninstall(self) -> None:
        """Stop the background thread (after the evaluation under way, if any)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def settled_moment(self, now: datetime | None = None) -> datetime:
        """`now` (default: the clock), or the earliest moment up to which a publisher has
        flushed, if earlier."""
        moment = as_utc(now or datetime.now(UTC))
        for settled in self._settled_until:
            until = settled()
            if until is not None:
                moment = min(moment, as_utc(until))
        return moment

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.evaluate_once(self.settled_moment())
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
            # list() of a dict view runs in C under the GIL: a consistent snapshot while moto's
            # server threads replace alarms; the index reads the datapoints appended since.
            alarms = list(backend.alarms.values())
            self._index.update(backend.metric_data)
            specs = [(alarm, spec) for alarm in alarms if (spec := spec_of(alarm)) is not None]
            for alarm, spec in specs:
                if alarm.state_reason == MOTO_INITIAL_REASON and not alarm.history:
                    # CloudWatch starts new alarms in INSUFFICIENT_DATA, moto in OK. A correction,
                    # not a transition: no history entry, no event.
                    alarm.state_value = "INSUFFICIENT_DATA"
                points = self._points(spec, moment)
                decision = decide(spec, points, str(alarm.state_value))
                if decision is not None and backend.alarms.get(alarm.name) is alarm:
                    changes.append(self._apply(alarm, spec, points, decision, moment))
        return changes

    def _points(self, spec: Spec, now: datetime) -> list[Point]:
        """The last EvaluationPeriods periods ending at `now`, oldest first."""
        width = timedelta(seconds=spec.period * self.time_scale)
        end = naive_utc(now)
        starts = [end - width * (spec.periods - i) for i in range(spec.periods)]
        mine = [
            (t, d)
            for t, d in self._index.between(spec.namespace, spec.name, starts[0], end)
            if dimension_set(d.dimensions) == spec.dimensions  # extra dimensions: another metric
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
            "timestamp": cloudwatch_time(alarm.state_updated_timestamp),
        }
        if alarm.state_reason_data and alarm.state_reason_data != "{}":
            previous["reasonData"] = alarm.state_reason_data
        reason_data = json.dumps(data, separators=(",", ":"))
        alarm.update_state(reason, reason_data, new)  # moto keeps the old state in .history
        alarm.state_updated_timestamp = naive_utc(now)  # the evaluation time, not the clock
        if self.history is not None:
            old = (previous["value"], previous["reason"])
            self.history.record_state(
                self.account, self.region, alarm, old, (new, reason, reason_data)
            )
        if self.emit_events:
            state = {
                "value": new,
                "reason": reason,
                "reasonData": reason_data,
                "timestamp": cloudwatch_time(now),
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
    data: dict[str, Any] = {"version": "1.0", "queryDate": cloudwatch_time(now)}
    if present:
        data["startDate"] = cloudwatch_time(present[0].start)
    if spec.unit:
        data["unit"] = spec.unit
    data.update(
        statistic=spec.stat,
        period=spec.period,
        recentDatapoints=[p.value for p in present],
        threshold=threshold,
    )
    data["evaluatedDatapoints"] = [
        {"timestamp": cloudwatch_time(p.start)}
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
        out.append(entry | {"returnData": returns_data(query)})
    return out
