"""The twin's CloudWatch alarm evaluation seam (mlops/twin/cloudwatch), in-process under mock_aws.

Every evaluation passes an explicit `now` and every datapoint an explicit Timestamp, so nothing
depends on the clock. Reasons are compared with the wording CloudWatch uses (user guide pages
alarm-evaluation, alarms-and-missing-data, cloudwatch-and-eventbridge).
"""

from __future__ import annotations

import inspect
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.cloudwatch import models as cw_models

from mlops.twin.cloudwatch.alarms import MOTO_INITIAL_REASON, AlarmEvaluator
from mlops.twin.cloudwatch.evaluation import Point, aggregate, decide, spec_of

pytestmark = pytest.mark.twin

ACCOUNT, REGION = "123456789012", "us-east-1"
NS = "AWS/SageMaker"
ENDPOINT = [
    {"Name": "EndpointName", "Value": "churn"},
    {"Name": "VariantName", "Value": "AllTraffic"},
]
GREEN = [*ENDPOINT, {"Name": "EndpointConfigName", "Value": "churn-config-2"}]
T0 = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def cw(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def evaluator(aws: None) -> AlarmEvaluator:
    return AlarmEvaluator(ACCOUNT, REGION, time_scale=1.0, emit_events=False)


def put(
    cw: Any, name: str, when: datetime, dims: list[dict[str, str]] = ENDPOINT, **value: Any
) -> None:
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[{"MetricName": name, "Dimensions": dims, "Timestamp": when, **value}],
    )


def alarm(cw: Any, name: str = "errors", **overrides: Any) -> str:
    params: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": "5XX rate of the churn endpoint",
        "Namespace": NS,
        "MetricName": "Invocation5XXErrors",
        "Dimensions": ENDPOINT,
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0.05,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    params.update(overrides)
    cw.put_metric_alarm(**{k: v for k, v in params.items() if v is not None})
    return name


def described(cw: Any, name: str) -> dict[str, Any]:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


# ---------------------------------------------------------------------------- state transitions


def test_average_error_rate_above_threshold_alarms_then_recovers_when_errors_stop(cw, evaluator):
    alarm(cw)
    put(cw, "Invocation5XXErrors", at(0.5), Values=[0.0], Counts=[2])
    [first] = evaluator.evaluate_once(now=at(1))
    assert (first["previousState"], first["state"]) == ("INSUFFICIENT_DATA", "OK")

    put(cw, "Invocation5XXErrors", at(1.5), Values=[1.0, 0.0])
    [change] = evaluator.evaluate_once(now=at(2))

    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [0.5 (22/11/26 08:01:00)] was greater "
        "than the threshold (0.05) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert change["alarmName"] == "errors"
    assert (change["previousState"], change["state"], change["reason"]) == ("OK", "ALARM", reason)
    state = described(cw, "errors")
    assert (state["StateValue"], state["StateReason"]) == ("ALARM", reason)
    assert state["StateUpdatedTimestamp"] == at(2)
    assert json.loads(state["StateReasonData"]) == {
        "version": "1.0",
        "queryDate": "2026-11-22T08:02:00.000+0000",
        "startDate": "2026-11-22T08:01:00.000+0000",
        "statistic": "Average",
        "period": 60,
        "recentDatapoints": [0.5],
        "threshold": 0.05,
        "evaluatedDatapoints": [
            {"timestamp": "2026-11-22T08:01:00.000+0000", "sampleCount": 2.0, "value": 0.5}
        ],
    }
    assert evaluator.evaluate_once(now=at(2.5)) == []  # still alarming: no new transition

    [recovered] = evaluator.evaluate_once(now=at(3))  # a period without datapoints
    assert (recovered["previousState"], recovered["state"]) == ("ALARM", "OK")
    assert recovered["reason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching]."
    )
    assert described(cw, "errors")["StateValue"] == "OK"
    assert cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["errors"].history[-1][3] == "ALARM"


def test_missing_data_default_goes_insufficient_data(cw, evaluator):
    alarm(cw, TreatMissingData=None)
    assert evaluator.evaluate_once(now=at(1)) == []  # new alarms start INSUFFICIENT_DATA
    assert described(cw, "errors")["StateValue"] == "INSUFFICIENT_DATA"

    put(cw, "Invocation5XXErrors", at(1.2), Value=1.0)
    [alarmed] = evaluator.evaluate_once(now=at(2))
    assert alarmed["reason"].endswith(
        "(minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."
    )

    [change] = evaluator.evaluate_once(now=at(3))
    assert (change["previousState"], change["state"]) == ("ALARM", "INSUFFICIENT_DATA")
    assert change["reason"] == "Insufficient Data: 1 datapoint was unknown."
    assert change["reasonData"]["evaluatedDatapoints"] == [
        {"timestamp": "2026-11-22T08:02:00.000+0000"}
    ]
    assert described(cw, "errors")["StateValue"] == "INSUFFICIENT_DATA"


def test_p90_model_latency_alarms_where_the_average_would_not(cw, evaluator):
    latency = {"MetricName": "ModelLatency", "Threshold": 85_000.0}
    alarm(cw, "p90", ExtendedStatistic="p90", Statistic=None, **latency)
    alarm(cw, "avg", Statistic="Average", **latency)
    # 10 requests, 10..100 ms in microseconds: p90 = 90 ms, average = 55 ms.
    put(
        cw,
        "ModelLatency",
        at(0.5),
        Values=[i * 10_000.0 for i in range(1, 11)],
        Unit="Microseconds",
    )

    changes = {c["alarmName"]: c for c in evaluator.evaluate_once(now=at(1))}

    assert changes["p90"]["state"] == "ALARM"
    assert "[90000.0 (22/11/26 08:00:00)]" in changes["p90"]["reason"]
    assert changes["p90"]["reasonData"]["statistic"] == "p90"
    assert changes["avg"]["state"] == "OK"


def test_two_of_three_datapoints_breaching_alarm_and_one_does_not(cw, evaluator):
    alarm(cw, "m-of-n", EvaluationPeriods=3, DatapointsToAlarm=2)
    alarm(
        cw,
        "one-breach",
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Dimensions=[{"Name": "EndpointName", "Value": "other"}],
    )
    for minute, value in ((0.5, 1.0), (1.5, 0.0), (2.5, 1.0)):
        put(cw, "Invocation5XXErrors", at(minute), Value=value)
    other = [{"Name": "EndpointName", "Value": "other"}]
    for minute, value in ((0.5, 0.0), (1.5, 0.0), (2.5, 1.0)):
        put(cw, "Invocation5XXErrors", at(minute), dims=other, Value=value)

    changes = {c["alarmName"]: c for c in evaluator.evaluate_once(now=at(3))}

    assert changes["m-of-n"]["state"] == "ALARM"
    assert changes["m-of-n"]["reason"] == (
        "Threshold Crossed: 2 out of the last 3 datapoints [1.0 (22/11/26 08:02:00), "
        "1.0 (22/11/26 08:00:00)] were greater than the threshold (0.05) "
        "(minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition)."
    )
    assert changes["one-breach"]["state"] == "OK"
    assert changes["one-breach"]["reason"].startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (22/11/26 08:01:00), "
        "0.0 (22/11/26 08:00:00)] were not greater than the threshold"
    )


def test_datapoints_with_extra_dimensions_are_another_metric(cw, evaluator):
    alarm(cw, "endpoint")
    alarm(cw, "green", Dimensions=GREEN)
    put(cw, "Invocation5XXErrors", at(0.5), Value=0.0)  # blue fleet, no errors
    put(cw, "Invocation5XXErrors", at(0.5), dims=GREEN, Value=1.0)  # green fleet fails

    changes = {c["alarmName"]: c["state"] for c in evaluator.evaluate_once(now=at(1))}

    assert changes == {"endpoint": "OK", "green": "ALARM"}


def test_statistic_sets_and_raw_values_combine(cw, evaluator):
    alarm(cw, "errors", Threshold=0.3)
    put(
        cw,
        "Invocation5XXErrors",
        at(0.2),
        StatisticValues={"SampleCount": 4, "Sum": 2, "Minimum": 0, "Maximum": 1},
    )
    put(cw, "Invocation5XXErrors", at(0.4), Value=0.0)

    [change] = evaluator.evaluate_once(now=at(1))

    assert change["state"] == "ALARM"
    assert change["reasonData"]["evaluatedDatapoints"][0] | {"timestamp": None} == {
        "timestamp": None,
        "sampleCount": 5.0,
        "value": 0.4,
    }


def test_percentiles_use_statistic_sets_only_when_their_samples_are_equal():
    sets = [
        cw_models.MetricAggregatedDatum(NS, "ModelLatency", 5.0, 5.0, 3, 15.0, [], T0),
        cw_models.MetricAggregatedDatum(NS, "ModelLatency", 1.0, 9.0, 2, 10.0, [], T0),
    ]
    value, samples, low = aggregate("p99.9", sets)
    assert (value, samples, low) == (5.0, 3.0, True)  # p99.9 needs 10/(1-0.999) samples
    assert aggregate("p50", sets[1:]) == (None, 2.0, False)


def test_time_scale_shrinks_the_periods(cw, aws):
    evaluator = AlarmEvaluator(ACCOUNT, REGION, time_scale=0.01, emit_events=False)
    # A rollback alarm as the SageMaker guide "Auto-Rollback Configuration and Monitoring"
    # sets one up (Period 600, 2 evaluation periods): 600 x 2 = 12 s at time_scale 0.01.
    alarm(cw, "guardrail", Period=600, EvaluationPeriods=2)
    now = at(30)
    put(cw, "Invocation5XXErrors", now - timedelta(seconds=13), Value=1.0)  # outside 12 s
    put(cw, "Invocation5XXErrors", now - timedelta(seconds=11), Value=1.0)  # first window
    assert [c["state"] for c in evaluator.evaluate_once(now=now)] == ["OK"]  # 1 of 2 breach

    put(cw, "Invocation5XXErrors", now - timedelta(seconds=5), Value=1.0)  # second window
    [change] = evaluator.evaluate_once(now=now)

    assert change["state"] == "ALARM"
    assert change["reasonData"]["period"] == 600  # the configured Period, as AWS reports it
    assert change["reasonData"]["recentDatapoints"] == [1.0, 1.0]
    assert change["reasonData"]["startDate"] == "2026-11-22T08:29:48.000+0000"


def test_a_period_is_judged_once_every_publisher_has_flushed_it(cw, aws):
    """At 1/100 a 30 s period lasts 0.3 s. Hosting flushes its datapoints a little later than
    it makes them; judged at the wall clock, the newest period can still be empty in moto and
    count as not breaching. Judged at the moment every publisher has flushed, it cannot."""
    flushed = at(10)  # hosting has sent everything made before this moment
    evaluator = AlarmEvaluator(
        ACCOUNT, REGION, time_scale=0.01, emit_events=False, settled_until=[lambda: flushed]
    )
    alarm(cw, Period=30)
    for before_ms in (250, 150, 50):  # every request failed; all of them are in moto
        put(cw, "Invocation5XXErrors", flushed - timedelta(milliseconds=before_ms), Value=1.0)
    wall_clock = flushed + timedelta(milliseconds=400)  # the next flush has not happened yet

    assert evaluator.settled_moment(now=wall_clock) == flushed
    assert (
        AlarmEvaluator(ACCOUNT, REGION, time_scale=0.01, emit_events=False).settled_moment(
            now=wall_clock
        )
        == wall_clock
    )
    [judged] = evaluator.evaluate_once(now=evaluator.settled_moment(now=wall_clock))
    assert judged["state"] == "ALARM"
    assert judged["reasonData"]["recentDatapoints"] == [1.0]


def test_publishers_that_promise_nothing_yet_do_not_hold_evaluation_back(aws):
    evaluator = AlarmEvaluator(ACCOUNT, REGION, settled_until=[lambda: None, lambda: at(5)])
    assert evaluator.settled_moment(now=at(7)) == at(5)
    assert evaluator.settled_moment(now=at(3)) == at(3)


@pytest.mark.parametrize(
    ("row", "expected"),
    [  # alarms-and-missing-data table, 3 of 3 (last three points of each row): "-" missing
        (
            "---",
            {
                "missing": "INSUFFICIENT_DATA",
                "ignore": None,
                "breaching": "ALARM",
                "notBreaching": "OK",
            },
        ),
        ("X--", {"missing": "ALARM", "ignore": None, "breaching": "ALARM", "notBreaching": "OK"}),
        ("--0", {"missing": "OK", "ignore": "OK", "breaching": "OK", "notBreaching": "OK"}),
    ],
)
def test_treat_missing_data_follows_the_user_guide_table(cw, aws, row, expected):
    alarm(cw, "table", EvaluationPeriods=3)
    spec = spec_of(cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["table"])
    assert spec is not None
    points = [Point(T0, {"X": 1.0, "0": 0.0}.get(c)) for c in row]
    for treat, state in expected.items():
        decision = decide(
            spec.__class__(**{**spec.__dict__, "treat": treat}),
            points,
            "INSUFFICIENT_DATA" if state is None else "(unknown)",
        )
        assert (decision[0] if decision else None) == state, treat


def test_simple_metric_math_is_evaluated_and_real_math_is_left_alone(cw, evaluator):
    def stat(metric_id: str) -> dict[str, Any]:
        return {
            "Id": metric_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": NS,
                    "MetricName": "Invocation5XXErrors",
                    "Dimensions": ENDPOINT,
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }

    common = {
        "Namespace": None,
        "MetricName": None,
        "Dimensions": None,
        "Statistic": None,
        "Period": None,
    }
    alarm(cw, "alias", Metrics=[stat("m1"), {"Id": "e1", "Expression": "m1"}], **common)
    alarm(
        cw,
        "math",
        Metrics=[stat("m1"), stat("m2"), {"Id": "e1", "Expression": "m1/m2", "ReturnData": True}],
        **common,
    )
    put(cw, "Invocation5XXErrors", at(0.5), Value=1.0)

    changes = evaluator.evaluate_once(now=at(1))

    assert [(c["alarmName"], c["state"]) for c in changes] == [("alias", "ALARM")]
    assert described(cw, "math")["StateReason"] == MOTO_INITIAL_REASON


# ---------------------------------------------------------------------------- event and thread


def test_state_change_event_reaches_a_rule_on_the_default_bus(cw, aws):
    sqs, events = (
        boto3.client("sqs", region_name=REGION),
        boto3.client("events", region_name=REGION),
    )
    queue = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="alarms",
        EventPattern=json.dumps(
            {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
        ),
    )
    events.put_targets(Rule="alarms", Targets=[{"Id": "q", "Arn": queue_arn}])
    alarm(cw, "green", Dimensions=GREEN)
    put(cw, "Invocation5XXErrors", at(0.5), dims=GREEN, Value=1.0)

    [change] = AlarmEvaluator(ACCOUNT, REGION).evaluate_once(now=at(1))

    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
    )
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:green"]
    # moto's own SQS delivery drops "account" from the envelope; region and time survive.
    assert (event["region"], event["time"]) == (REGION, "2026-11-22T08:01:00Z")
    detail = event["detail"]
    assert detail["alarmName"] == "green"
    assert detail["state"] == {
        "value": "ALARM",
        "reason": change["reason"],
        "reasonData": described(cw, "green")["StateReasonData"],
        "timestamp": "2026-11-22T08:01:00.000+0000",
    }
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["previousState"]["reason"] == MOTO_INITIAL_REASON
    [metric] = detail["configuration"]["metrics"]
    assert detail["configuration"]["description"] == "5XX rate of the churn endpoint"
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {d["Name"]: d["Value"] for d in GREEN},
            "name": "Invocation5XXErrors",
            "namespace": NS,
        },
        "period": 60,
        "stat": "Average",
    }
    assert metric["returnData"] is True


def test_background_thread_evaluates_until_stopped(cw, aws):
    alarm(cw, TreatMissingData="breaching")  # no datapoints at all: ALARM on the first pass
    evaluator = AlarmEvaluator(ACCOUNT, REGION, interval_s=0.01, emit_events=False)
    evaluator.install()
    try:
        pause = threading.Event()  # never set: a bounded wait for the thread's first pass
        for _ in range(500):
            if described(cw, "errors")["StateValue"] == "ALARM":
                break
            pause.wait(0.01)
        assert described(cw, "errors")["StateValue"] == "ALARM"
    finally:
        evaluator.uninstall()
    assert not [t for t in threading.enumerate() if t.name == "twin-alarms"]


def test_evaluation_runs_while_datapoints_are_appended_concurrently(cw, evaluator):
    alarm(cw)
    backend = cw_models.cloudwatch_backends[ACCOUNT][REGION]
    batch = [
        {
            "MetricName": "Invocation5XXErrors",
            "Dimensions": ENDPOINT,
            "Value": 1.0,
            "Timestamp": at(0.5),
        }
    ] * 20

    def publish() -> None:  # as moto's server threads do while the evaluator runs
        for _ in range(200):
            backend.put_metric_data(NS, batch)

    backend.put_metric_data(NS, batch)  # the first evaluation already sees the errors
    writer = threading.Thread(target=publish)
    writer.start()
    changes = []
    while writer.is_alive():
        changes += evaluator.evaluate_once(now=at(1))
    writer.join()
    changes += evaluator.evaluate_once(now=at(1))
    assert [c["state"] for c in changes] == ["ALARM"]
    assert changes[0]["reasonData"]["recentDatapoints"] == [1.0]


# ---------------------------------------------------------------------------- moto contracts


def test_contract_backend_holds_alarms_and_datapoints(cw):
    backend = cw_models.cloudwatch_backends[ACCOUNT][REGION]
    put(cw, "Invocation5XXErrors", at(0.5), Values=[1.0, 2.0], Counts=[2, 1])
    put(
        cw,
        "Invocation5XXErrors",
        at(0.5),
        StatisticValues={"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2},
    )
    alarm(cw)
    assert isinstance(backend.alarms["errors"], cw_models.Alarm)
    singles = [d for d in backend.metric_data if isinstance(d, cw_models.MetricDatum)]
    assert sorted(d.value for d in singles) == [1.0, 1.0, 2.0]  # Values x Counts expanded
    [stats] = [d for d in backend.metric_data if isinstance(d, cw_models.MetricAggregatedDatum)]
    assert (stats.sample_count, stats.sum, stats.min, stats.max) == (2.0, 3.0, 1.0, 2.0)
    for datum in backend.metric_data:
        assert (datum.namespace, datum.name, datum.unit) == (NS, "Invocation5XXErrors", None)
        assert [(d.name, d.value) for d in datum.dimensions] == [
            (d["Name"], d["Value"]) for d in ENDPOINT
        ]
        assert datum.timestamp == at(0.5).replace(tzinfo=None)  # naive UTC


def test_contract_alarm_fields_the_evaluator_reads(cw):
    alarm(cw, DatapointsToAlarm=1, Unit="Count", EvaluateLowSampleCountPercentile="ignore")
    stored = cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["errors"]
    assert (stored.namespace, stored.metric_name, stored.statistic, stored.period) == (
        NS,
        "Invocation5XXErrors",
        "Average",
        60,
    )
    assert (stored.evaluation_periods, stored.datapoints_to_alarm, stored.threshold) == (1, 1, 0.05)
    assert (stored.comparison_operator, stored.treat_missing_data, stored.unit) == (
        "GreaterThanThreshold",
        "notBreaching",
        "Count",
    )
    assert stored.evaluate_low_sample_count_percentile == "ignore"
    assert (stored.extended_statistic, stored.rule, stored.threshold_metric_id) == (None,) * 3
    assert stored.alarm_arn == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:errors"
    assert stored.description == "5XX rate of the churn endpoint"


def test_contract_metric_math_queries_shape(cw):
    alarm(
        cw,
        "alias",
        Namespace=None,
        MetricName=None,
        Dimensions=None,
        Statistic=None,
        Period=None,
        Metrics=[
            {
                "Id": "m1",
                "ReturnData": False,
                "Label": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NS,
                        "MetricName": "ModelLatency",
                        "Dimensions": ENDPOINT,
                    },
                    "Period": 60,
                    "Stat": "p90",
                },
            },
            {"Id": "e1", "Expression": "m1"},
        ],
    )
    first, second = (
        cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["alias"].metric_data_queries
    )
    assert (first.id, first.label, first.return_data, first.expression) == (
        "m1",
        "errors",
        False,
        None,
    )
    stat = first.metric_stat
    assert (stat.period, stat.stat, stat.unit) == (60, "p90", None)
    assert (stat.metric.namespace, stat.metric.metric_name) == (NS, "ModelLatency")
    assert [(d.name, d.value) for d in stat.metric.dimensions] == [
        ("EndpointName", "churn"),
        ("VariantName", "AllTraffic"),
    ]
    assert (second.expression, second.return_data, second.metric_stat) == ("m1", None, None)


def test_contract_new_alarm_state_and_update_state(cw):
    alarm(cw)
    stored = cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["errors"]
    # moto starts alarms in OK with this reason; the evaluator corrects it to INSUFFICIENT_DATA.
    assert (stored.state_value, stored.state_reason, stored.history) == (
        "OK",
        MOTO_INITIAL_REASON,
        [],
    )
    assert list(inspect.signature(stored.update_state).parameters) == [
        "reason",
        "reason_data",
        "state_value",
    ]
    stored.update_state("why", "{}", "ALARM")
    stored.state_updated_timestamp = at(5).replace(tzinfo=None)
    assert stored.history[-1][0:4] == ("StateUpdate", MOTO_INITIAL_REASON, "{}", "OK")
    state = described(cw, "errors")
    assert (state["StateValue"], state["StateReason"]) == ("ALARM", "why")
    assert state["StateUpdatedTimestamp"] == at(5)
    alarm(cw)  # PutMetricAlarm replaces the object: the evaluator checks identity before writing
    assert cw_models.cloudwatch_backends[ACCOUNT][REGION].alarms["errors"] is not stored
