"""Metric publication and alarm periods agree at every clock scale (cloudwatch/cadence.py).

A real endpoint in a whole local cloud answers every request with a 5XX; an alarm like the
stack's EndpointErrorAlarm (Average of Invocation5XXErrors, 30 s period, notBreaching) watches
it. Under that constant 100 % error rate the alarm must enter ALARM once and stay there: no
period may look empty because its datapoints were still on their way, however short the
period is in real seconds (0.3 s at 1/100) and however busy the machine.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from botocore.config import Config

from mlops.twin.cloud import LocalCloud
from mlops.twin.cloudwatch.cadence import (
    SMALLEST_PERIOD_S,
    evaluation_interval,
    metrics_flush_interval,
)
from mlops.twin.sagemaker.hosting.metrics import MetricsBuffer, invocation_datums

pytestmark = [pytest.mark.twin, pytest.mark.slow]

PERIOD_S, PERIODS_WATCHED = 30, 10
REQUEST_INTERVAL_S = 0.05  # steady client traffic, as the e2e tests' TrafficClient sends it
FAILING = json.dumps({"instances": ["explode"]}).encode()  # the fixture model's 500


def alarm_on(cloud: LocalCloud, endpoint: str) -> str:
    name = f"{endpoint}-5xx"
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Average",
        Period=PERIOD_S,
        EvaluationPeriods=1,
        Threshold=0.05,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    return name


def failing_traffic(cloud: LocalCloud, endpoint: str, stop: threading.Event, sent: list) -> None:
    runtime = cloud.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}))
    while not stop.wait(REQUEST_INTERVAL_S):
        try:
            runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="application/json", Body=FAILING
            )
        except runtime.exceptions.ModelError:
            sent.append(time.monotonic())


def state_updates(cloud: LocalCloud, alarm: str) -> list[dict[str, Any]]:
    items = cloud.client("cloudwatch").describe_alarm_history(
        AlarmName=alarm, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    return [json.loads(item["HistoryData"])["newState"]["stateValue"] for item in items]


@pytest.mark.parametrize("time_scale", [0.01, 0.05], ids=["1/100", "1/20"])
def test_a_constant_error_rate_enters_alarm_exactly_once(time_scale: float, hosting_world) -> None:
    with LocalCloud(time_scale=time_scale) as cloud:
        world = hosting_world(cloud)  # a LocalCloud has the client factory and URL it needs
        world.upload_artefacts()
        endpoint = f"flap-{uuid.uuid4().hex[:6]}"
        cloud.client("sagemaker").create_endpoint(
            EndpointName=endpoint, EndpointConfigName=world.config(("AllTraffic", "blue"))
        )
        assert cloud.hosting.wait_until_settled(endpoint)["EndpointStatus"] == "InService"
        alarm = alarm_on(cloud, endpoint)
        stop, failed = threading.Event(), []
        sender = threading.Thread(target=failing_traffic, args=(cloud, endpoint, stop, failed))
        sender.start()
        time.sleep(PERIOD_S * time_scale * PERIODS_WATCHED)
        during = state_updates(cloud, alarm)
        stop.set()
        sender.join(timeout=30)
    print(
        f"\n1/{round(1 / time_scale)}: {len(failed)} failed requests over "
        f"{PERIODS_WATCHED} periods of {PERIOD_S * time_scale:g} s; alarm states {during}"
    )
    assert len(failed) > PERIODS_WATCHED * 3, "requests flowed through every period"
    assert during.count("ALARM") == 1, during
    assert during[-1] == "ALARM"


def test_hosting_promises_only_what_it_has_published():
    sent: list[dict[str, Any]] = []
    buffer = MetricsBuffer(lambda _namespace, data: sent.extend(data), interval_s=3600)
    try:
        buffer.add(invocation_datums("ep", "AllTraffic", 500, 900, 100))
        assert buffer.published_until() is None, "nothing flushed, nothing promised"
        buffer.flush()
        promised = buffer.published_until()
        assert promised is not None and len(sent) == 5
        assert all(datum["Timestamp"] <= promised for datum in sent)
        buffer.add(invocation_datums("ep", "AllTraffic", 200, 900, 100))
        buffer.flush()
        assert all(datum["Timestamp"] >= promised for datum in sent[5:])
    finally:
        buffer.close()


@pytest.mark.parametrize("time_scale", [0.001, 0.01, 0.05, 1.0])
def test_every_alarm_period_spans_several_flushes_and_evaluations(time_scale: float) -> None:
    smallest = SMALLEST_PERIOD_S * time_scale
    if smallest >= 0.2:  # below that the floors (50 ms) apply: still at least twice per period
        assert metrics_flush_interval(time_scale) <= smallest / 4
        assert evaluation_interval(time_scale) <= smallest / 2
    assert metrics_flush_interval(time_scale) <= max(smallest / 2, 0.05)
    assert 0.05 <= evaluation_interval(time_scale) <= 0.5
