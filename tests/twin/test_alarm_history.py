"""DescribeAlarmHistory in the twin (mlops/twin/cloudwatch/history.py): moto 5.2.5 answers it
with an HTTP 500 page; the twin records what CloudWatch records (API reference,
AlarmHistoryItem) and serves it through the real wire protocol."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.twin


def make_alarm(cloudwatch: Any, name: str, threshold: float = 0.05) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Twin/Test",
        MetricName="Errors",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",  # no data keeps the state: only the test changes it
    )
    # The cloud's evaluator first corrects moto's initial OK (CloudWatch starts alarms in
    # INSUFFICIENT_DATA); no history item for that, and no race with the test's changes.
    deadline = time.monotonic() + 30
    while cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "OK":
        assert time.monotonic() < deadline, "the cloud's evaluator never looked at the alarm"
        time.sleep(0.02)


def history(cloudwatch: Any, name: str, **filters: Any) -> list[dict[str, Any]]:
    return cloudwatch.describe_alarm_history(AlarmName=name, **filters)["AlarmHistoryItems"]


def test_configuration_and_state_updates_are_recorded_newest_first(local_cloud):
    cloudwatch = local_cloud.client("cloudwatch")
    name = f"history-{uuid.uuid4().hex[:6]}"
    make_alarm(cloudwatch, name)
    make_alarm(cloudwatch, name, threshold=0.1)  # moto starts the replaced alarm over
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing purposes")
    items = history(cloudwatch, name)
    assert [(i["HistoryItemType"], i["HistorySummary"]) for i in items] == [
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
    ]
    assert {i["AlarmName"] for i in items} == {name}
    assert {i["AlarmType"] for i in items} == {"MetricAlarm"}
    state = json.loads(items[0]["HistoryData"])
    assert state["version"] == "1.0"
    assert state["newState"] == {"stateValue": "ALARM", "stateReason": "testing purposes"}
    assert state["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    created = json.loads(items[2]["HistoryData"])
    assert created["type"] == "Create" and created["createdAlarm"]["threshold"] == 0.05
    assert all(isinstance(i["Timestamp"], datetime) for i in items)


def test_filters_order_and_pages(local_cloud):
    cloudwatch = local_cloud.client("cloudwatch")
    name = f"history-{uuid.uuid4().hex[:6]}"
    make_alarm(cloudwatch, name)
    for value in ("ALARM", "OK", "ALARM"):
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=value, StateReason=value)
    updates = history(cloudwatch, name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    assert [i["HistorySummary"] for i in updates] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
    ]
    first = cloudwatch.describe_alarm_history(AlarmName=name, MaxRecords=3)
    assert len(first["AlarmHistoryItems"]) == 3 and first["NextToken"]
    rest = cloudwatch.describe_alarm_history(
        AlarmName=name, MaxRecords=3, NextToken=first["NextToken"]
    )
    assert len(rest["AlarmHistoryItems"]) == 1 and "NextToken" not in rest
    later = datetime.now(UTC) + timedelta(hours=1)
    assert history(cloudwatch, name, StartDate=later) == []
    assert history(cloudwatch, name, AlarmTypes=["CompositeAlarm"]) == []


def test_the_evaluators_state_changes_are_in_the_history(local_cloud):
    cloudwatch = local_cloud.client("cloudwatch")
    name = f"history-{uuid.uuid4().hex[:6]}"
    make_alarm(cloudwatch, name)
    cloudwatch.put_metric_data(
        Namespace="Twin/Test", MetricData=[{"MetricName": "Errors", "Value": 1.0}]
    )
    deadline = time.monotonic() + 30
    while not (updates := history(cloudwatch, name, HistoryItemType="StateUpdate")):
        assert time.monotonic() < deadline, "the cloud's evaluator recorded no state change"
        time.sleep(0.05)
    first = updates[-1]  # newest first: the oldest is last
    data = json.loads(first["HistoryData"])
    assert first["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert data["newState"]["stateReason"].startswith("Threshold Crossed: 1 out of the last 1")
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [1.0]


def test_moto_still_lacks_describe_alarm_history_and_keeps_what_the_seam_wraps():
    from moto.cloudwatch import responses
    from moto.cloudwatch.models import CloudWatchBackend

    assert "def describe_alarm_history" not in inspect.getsource(responses), (
        "moto now implements DescribeAlarmHistory; revisit mlops/twin/cloudwatch/history.py"
    )
    assert list(inspect.signature(CloudWatchBackend.put_metric_alarm).parameters)[:2] == [
        "self",
        "name",
    ]
    assert list(inspect.signature(CloudWatchBackend.set_alarm_state).parameters) == [
        "self",
        "alarm_name",
        "reason",
        "reason_data",
        "state_value",
    ]
    assert list(inspect.signature(CloudWatchBackend.delete_alarms).parameters) == [
        "self",
        "alarm_names",
    ]
    assert "self.alarms[name] = alarm" in inspect.getsource(CloudWatchBackend.put_metric_alarm)
