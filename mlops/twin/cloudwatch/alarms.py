"""CloudWatch metric alarms evaluated for the twin: moto 5.2.5 stores alarms, never evaluates
them. `AlarmEvaluator` judges every metric alarm of moto's backend on a background thread (the
rules: evaluation.py) and records each change as CloudWatch does: the alarm's state, reason,
reason data and history, and a "CloudWatch Alarm State Change" event on the default bus (user
guide, cloudwatch-and-eventbridge).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import Alarm, cloudwatch_backends

from mlops.twin.aws.timestamps import cloudwatch_time, naive_utc
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
from mlops.twin.events.emit import put_aws_event
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)

SOURCE, DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
MOTO_INITIAL_REASON = "Unchecked: Initial alarm creation"  # moto's Alarm.__init__ (state "OK")


class AlarmEvaluator(Seam):
    """Evaluates every metric alarm in moto's CloudWatch backend of one account and region.

    time_scale: real seconds per AWS second. An alarm Period of 60 s is evaluated over
    60 * time_scale real seconds of datapoints (pass the LocalCloud's time_scale).
    interval_s: real seconds between evaluations of the background thread (install/uninstall).
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
        end = naive_utc(now)
        starts = [end - width * (spec.periods - i) for i in range(spec.periods)]
        mine = [
            (t, d)
            for d in datums
            if starts[0] <= (t := naive_utc(d.timestamp)) < end
            and dimension_set(d.dimensions) == spec.dimensions  # extra dimensions: another metric
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
