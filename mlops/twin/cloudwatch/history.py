"""CloudWatch alarm history: DescribeAlarmHistory (moto 5.2.5 has no such operation; a client
got an HTTP 500 page) and the items it returns.

CloudWatch records an item whenever an alarm is created, updated or deleted
(ConfigurationUpdate) and whenever its state changes (StateUpdate), with a summary ("Alarm
updated from OK to ALARM") and JSON data (API reference, AlarmHistoryItem; the AWS CLI's
describe-alarm-history example shows the StateUpdate data). The store lives in this seam, not
on moto's Alarm, because moto replaces the Alarm object on every PutMetricAlarm. State changes
come from the evaluator (alarms.py, `record_state`) and from SetAlarmState.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from mlops.twin.aws.timestamps import as_utc, epoch_seconds, utcnow
from mlops.twin.seam import Patch, PatchSeam

DEFAULT_MAX_RECORDS, MAX_RECORDS = 50, 100  # DescribeAlarmHistory MaxRecords: 1-100


def _alarm_type(alarm: Any) -> str:
    return "CompositeAlarm" if getattr(alarm, "rule", None) else "MetricAlarm"


def _configuration(alarm: Any) -> dict[str, Any]:
    """The alarm's settings as ConfigurationUpdate data shows them (a subset, camel-cased)."""
    fields = {
        "alarmName": alarm.name,
        "alarmArn": alarm.alarm_arn,
        "namespace": alarm.namespace,
        "metricName": alarm.metric_name,
        "statistic": alarm.statistic or alarm.extended_statistic,
        "period": alarm.period,
        "evaluationPeriods": alarm.evaluation_periods,
        "threshold": alarm.threshold,
        "comparisonOperator": alarm.comparison_operator,
        "treatMissingData": alarm.treat_missing_data,
    }
    return {key: value for key, value in fields.items() if value is not None}


class AlarmHistory(PatchSeam):
    """Every alarm's history in every account and region of moto's CloudWatch."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # -- recording ------------------------------------------------------------------------
    def _add(self, account: str, region: str, alarm: Any, kind: str, summary: str, data: dict):
        item = {
            "AlarmName": alarm.name,
            "AlarmType": _alarm_type(alarm),
            "Timestamp": utcnow(),
            "HistoryItemType": kind,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data, separators=(",", ":")),
        }
        with self._lock:
            self._items.setdefault((account, region), []).append(item)

    def record_state(
        self,
        account: str,
        region: str,
        alarm: Any,
        old: tuple[str, str],
        new: tuple[str, str, str | None],
    ) -> None:
        """A StateUpdate: `old` = (value, reason), `new` = (value, reason, reason data JSON)."""
        new_state: dict[str, Any] = {"stateValue": new[0], "stateReason": new[1]}
        if new[2] and new[2] != "{}":
            new_state["stateReasonData"] = json.loads(new[2])
        data = {
            "version": "1.0",
            "oldState": {"stateValue": old[0], "stateReason": old[1]},
            "newState": new_state,
        }
        self._add(
            account, region, alarm, "StateUpdate", f"Alarm updated from {old[0]} to {new[0]}", data
        )

    def items(self, account: str, region: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items.get((account, region), [])]

    # -- the seam -------------------------------------------------------------------------
    def patches(self) -> Sequence[Patch]:
        history = self
        put_alarm = CloudWatchBackend.put_metric_alarm
        set_state = CloudWatchBackend.set_alarm_state
        delete = CloudWatchBackend.delete_alarms

        @functools.wraps(put_alarm)
        def put_metric_alarm(backend: CloudWatchBackend, name: str, *args: Any, **kwargs: Any):
            existed = name in backend.alarms
            alarm = put_alarm(backend, name, *args, **kwargs)
            verb = "updated" if existed else "created"
            data = {"type": verb[:-1].capitalize(), "version": "1.0"}
            data["updatedAlarm" if existed else "createdAlarm"] = _configuration(alarm)
            where = (backend.account_id, backend.region_name)
            history._add(*where, alarm, "ConfigurationUpdate", f'Alarm "{name}" {verb}', data)
            return alarm

        @functools.wraps(set_state)
        def set_alarm_state(backend: CloudWatchBackend, alarm_name: str, *args: Any, **kw: Any):
            alarm = backend.alarms.get(alarm_name)
            old = (alarm.state_value, alarm.state_reason) if alarm is not None else None
            set_state(backend, alarm_name, *args, **kw)
            if alarm is not None and old is not None:
                new = (alarm.state_value, alarm.state_reason, alarm.state_reason_data)
                history.record_state(backend.account_id, backend.region_name, alarm, old, new)

        @functools.wraps(delete)
        def delete_alarms(backend: CloudWatchBackend, alarm_names: list[str]) -> None:
            gone = [backend.alarms[n] for n in alarm_names if n in backend.alarms]
            delete(backend, alarm_names)
            for alarm in gone:
                data = {"type": "Delete", "version": "1.0", "deletedAlarm": _configuration(alarm)}
                where = (backend.account_id, backend.region_name)
                summary = f'Alarm "{alarm.name}" deleted'
                history._add(*where, alarm, "ConfigurationUpdate", summary, data)

        def describe_alarm_history(response: CloudWatchResponse) -> ActionResult:
            return ActionResult(history._describe(response))

        return [
            Patch(CloudWatchBackend, "put_metric_alarm", put_metric_alarm),
            Patch(CloudWatchBackend, "set_alarm_state", set_alarm_state),
            Patch(CloudWatchBackend, "delete_alarms", delete_alarms),
            Patch(CloudWatchResponse, "describe_alarm_history", describe_alarm_history),
        ]

    def _describe(self, response: CloudWatchResponse) -> dict[str, Any]:
        """DescribeAlarmHistory: AlarmName, AlarmTypes (default MetricAlarm), HistoryItemType,
        StartDate/EndDate, ScanBy (default TimestampDescending), MaxRecords, NextToken."""
        param = response._get_param
        items = self.items(response.current_account, response.region)
        name, kind = param("AlarmName"), param("HistoryItemType")
        types = param("AlarmTypes") or ["MetricAlarm"]
        start, end = param("StartDate"), param("EndDate")
        chosen = [
            item
            for item in items
            if (name is None or item["AlarmName"] == name)
            and (kind is None or item["HistoryItemType"] == kind)
            and item["AlarmType"] in types
            and (start is None or _at(item) >= epoch_seconds(start))
            and (end is None or _at(item) <= epoch_seconds(end))
        ]
        chosen.sort(key=_at, reverse=param("ScanBy") != "TimestampAscending")
        offset = int(param("NextToken") or 0)
        limit = min(int(param("MaxRecords") or DEFAULT_MAX_RECORDS), MAX_RECORDS)
        page = chosen[offset : offset + limit]
        out: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + limit < len(chosen):
            out["NextToken"] = str(offset + limit)
        return out


def _at(item: dict[str, Any]) -> float:
    moment: datetime = item["Timestamp"]
    return as_utc(moment).timestamp()
