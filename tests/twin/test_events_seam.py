"""The twin's EventBridge delivery seam (mlops/twin/events/) against a real moto server."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto.events import models as events_models

from mlops.twin.events.delivery import EventDelivery
from mlops.twin.events.emit import put_aws_event
from mlops.twin.events.input import render_template

if TYPE_CHECKING:
    from conftest import MotoServer

pytestmark = pytest.mark.twin

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/events"
PASS_ONLY = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
SOURCE, DETAIL_TYPE = "aws.sagemaker", "SageMaker Model Package State Change"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/3"
DETAIL = {
    "ModelPackageGroupName": "churn",
    "ModelPackageVersion": 3,
    "ModelApprovalStatus": "Approved",
    "Flag": True,
    "Scores": [1, 2],
}
WHEN = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
PATTERN = json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]})


class FakeLambda:
    """Records Invoke calls (moto's Invoke needs Docker); optionally fails or blocks."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures: list[Exception] = []
        self.always: Exception | None = None
        self.gate: threading.Event | None = None
        self.started, self.finished = threading.Event(), threading.Event()

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.finished.set()
        if self.failures:
            raise self.failures.pop(0)
        if self.always is not None:
            raise self.always
        return {"StatusCode": 202}


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Invoke",
    )


@pytest.fixture
def aws(moto_server: MotoServer) -> Callable[[str], Any]:
    """A client factory for an empty account (every test starts from one)."""
    moto_server.reset()
    return moto_server.client


@pytest.fixture
def fake_lambda() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def delivery(aws: Callable[[str], Any], fake_lambda: FakeLambda) -> Iterator[EventDelivery]:
    seam = EventDelivery(
        lambda s: fake_lambda if s == "lambda" else aws(s), retry_base_delay_s=0.01
    )
    seam.install()
    seam.install()  # idempotent
    yield seam
    seam.uninstall()
    assert events_models.Rule.send_to_targets is ORIGINAL_SEND


ORIGINAL_SEND = events_models.Rule.send_to_targets


def state_machine(aws: Callable[[str], Any], name: str) -> str:
    return aws("stepfunctions").create_state_machine(name=name, definition=PASS_ONLY, roleArn=ROLE)[
        "stateMachineArn"
    ]


def execution_inputs(aws: Callable[[str], Any], arn: str) -> list[Any]:
    sfn = aws("stepfunctions")
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
    ]


def rule(
    aws: Callable[[str], Any],
    name: str,
    targets: list[dict[str, Any]],
    bus: str = "default",
    pattern: str = PATTERN,
    state: str = "ENABLED",
) -> str:
    events = aws("events")
    arn = events.put_rule(Name=name, EventPattern=pattern, EventBusName=bus, State=state)["RuleArn"]
    events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return arn


def queue(aws: Callable[[str], Any], name: str) -> tuple[str, str]:
    url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def receive(aws: Callable[[str], Any], url: str) -> list[dict[str, Any]]:
    return (
        aws("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


def publish(bus: str = "default", resources: list[str] | None = None) -> str:
    return put_aws_event(
        ACCOUNT,
        REGION,
        SOURCE,
        DETAIL_TYPE,
        DETAIL,
        [PACKAGE_ARN] if resources is None else resources,
        bus=bus,
        time=WHEN,
    )


def whole_event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": ACCOUNT,
        "time": "2024-05-01T12:00:00Z",
        "region": REGION,
        "resources": [PACKAGE_ARN],
        "detail": DETAIL,
        **extra,
    }


def test_state_machine_target_receives_the_whole_event_envelope(aws, delivery):
    machine = state_machine(aws, "whole")
    rule_arn = rule(aws, "to-sfn", [{"Id": "sfn", "Arn": machine, "RoleArn": ROLE}])
    event_id = publish()
    assert delivery.wait_idle(10)
    assert execution_inputs(aws, machine) == [whole_event(event_id)]
    [record] = delivery.deliveries()
    assert (record["rule_arn"], record["target_id"], record["target_arn"]) == (
        rule_arn,
        "sfn",
        machine,
    )
    assert (record["ok"], record["attempts"], record["error"]) == (True, 1, None)


def test_input_inputpath_and_input_transformer_shape_what_each_target_receives(aws, delivery):
    arns = {name: state_machine(aws, name) for name in ("const", "path", "json", "text")}
    template = (
        '{"status": <status>, "says": "v<version> is <status>", "version": <version>, '
        '"flag": <flag>, "scores": <scores>, "missing": <missing>, "gone": "[<missing>]", '
        '"rule": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", '
        '"ingested": "<aws.events.event.ingestion-time>", "meta": <aws.events.event>, '
        '"full": <aws.events.event.json>}'
    )
    paths = {
        "status": "$.detail.ModelApprovalStatus",
        "version": "$.detail.ModelPackageVersion",
        "flag": "$.detail.Flag",
        "scores": "$.detail.Scores",
        "missing": "$.detail.Nope",
    }
    rule_arn = rule(
        aws,
        "shapes",
        [
            {"Id": "const", "Arn": arns["const"], "Input": '{"fixed": true}'},
            {"Id": "path", "Arn": arns["path"], "InputPath": "$.detail"},
            {
                "Id": "json",
                "Arn": arns["json"],
                "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template},
            },
            {
                "Id": "text",
                "Arn": arns["text"],
                "InputTransformer": {
                    "InputPathsMap": {"group": "$.detail.ModelPackageGroupName"},
                    "InputTemplate": '"model <group> is <aws.events.rule-name>"',
                },
            },
        ],
    )
    event_id = publish()
    assert delivery.wait_idle(10)
    assert execution_inputs(aws, arns["const"]) == [{"fixed": True}]
    assert execution_inputs(aws, arns["path"]) == [DETAIL]
    assert execution_inputs(aws, arns["text"]) == ["model churn is shapes"]
    [rendered] = execution_inputs(aws, arns["json"])
    full = whole_event(event_id)
    ingested = datetime.strptime(rendered.pop("ingested"), "%Y-%m-%dT%H:%M:%SZ")
    assert abs(ingested.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)
    assert rendered == {
        "status": "Approved",
        "says": "v3 is Approved",
        "version": 3,
        "flag": True,
        "scores": [1, 2],
        "missing": None,
        "gone": "[]",
        "rule": rule_arn,
        "name": "shapes",
        "meta": {k: v for k, v in full.items() if k != "detail"},
        "full": full,
    }


def test_render_template_plain_text_is_raw_and_unknown_placeholders_stay():
    values = {"a": "i-1", "b": 2}
    assert render_template("<a> is in state <b> <c>", values) == "i-1 is in state 2 <c>"
    assert render_template('["<a>", <a>, "\\"<b>\\""]', values) == '["i-1", "i-1", "\\"2\\""]'


def test_lambda_target_is_invoked_asynchronously_with_event_invocation_type(
    aws, delivery, fake_lambda
):
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:deploy"
    rule(aws, "to-lambda", [{"Id": "fn", "Arn": function}])
    event_id = publish()
    assert delivery.wait_idle(10)
    [call] = fake_lambda.calls
    assert (call["FunctionName"], call["InvocationType"]) == (function, "Event")
    assert json.loads(call["Payload"]) == whole_event(event_id)


def test_put_events_returns_while_a_slow_target_is_still_running(aws, delivery, fake_lambda):
    fake_lambda.gate = threading.Event()
    rule(aws, "slow", [{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:slow"}])
    response = aws("events").put_events(
        Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(DETAIL)}]
    )
    assert response["FailedEntryCount"] == 0
    assert fake_lambda.started.wait(10)
    assert not fake_lambda.finished.is_set()  # the publisher got its answer first
    fake_lambda.gate.set()
    assert delivery.wait_idle(10)
    assert [r["ok"] for r in delivery.deliveries()] == [True]


def test_event_bus_target_forwards_the_same_event_and_resources_pattern_matches(aws, delivery):
    bus_arn = aws("events").create_event_bus(Name="models")["EventBusArn"]
    machine = state_machine(aws, "on-custom-bus")
    rule(
        aws,
        "by-resource",
        [{"Id": "sfn", "Arn": machine}],
        bus="models",
        pattern=json.dumps({"resources": [PACKAGE_ARN]}),
    )
    rule(
        aws,
        "other-resource",
        [{"Id": "sfn", "Arn": machine}],
        bus="models",
        pattern=json.dumps({"resources": ["arn:aws:sagemaker:::model-package/other/1"]}),
    )
    rule(aws, "forward", [{"Id": "bus", "Arn": bus_arn, "RoleArn": ROLE}])
    event_id = publish()
    assert delivery.wait_idle(10)
    assert execution_inputs(aws, machine) == [whole_event(event_id)]


def test_disabled_rule_delivers_nothing_while_enabled_rule_delivers(aws, delivery):
    live, dead = state_machine(aws, "live"), state_machine(aws, "dead")
    live_url, live_queue = queue(aws, "live-q")
    dead_url, dead_queue = queue(aws, "dead-q")
    rule(aws, "enabled", [{"Id": "sfn", "Arn": live}, {"Id": "q", "Arn": live_queue}])
    rule(
        aws,
        "disabled",
        [{"Id": "sfn", "Arn": dead}, {"Id": "q", "Arn": dead_queue}],
        state="DISABLED",
    )
    event_id = publish()
    assert delivery.wait_idle(10)
    assert len(execution_inputs(aws, live)) == 1 and execution_inputs(aws, dead) == []
    [message] = receive(aws, live_url)  # moto's own SQS delivery, still synchronous
    assert json.loads(message["Body"])["id"] == event_id
    assert receive(aws, dead_url) == []
    assert {r["target_arn"] for r in delivery.deliveries()} == {live}


def test_sqs_target_with_input_gets_the_constant_moto_would_ignore(aws, delivery):
    url, arn = queue(aws, "constant-q")
    rule(aws, "constant", [{"Id": "q", "Arn": arn, "Input": '{"go": 1}'}])
    publish()
    assert delivery.wait_idle(10)
    assert [json.loads(m["Body"]) for m in receive(aws, url)] == [{"go": 1}]


def test_failing_target_is_retried_then_sent_to_dlq_with_attributes(aws, delivery, fake_lambda):
    fake_lambda.always = client_error("ServiceException", 500)
    dlq_url, dlq_arn = queue(aws, "dlq")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:broken"
    rule_arn = rule(
        aws,
        "retrying",
        [
            {
                "Id": "fn",
                "Arn": function,
                "RetryPolicy": {"MaximumRetryAttempts": 2},
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )
    event_id = publish()
    assert delivery.wait_idle(10)
    assert len(fake_lambda.calls) == 3
    [message] = receive(aws, dlq_url)
    assert json.loads(message["Body"]) == whole_event(event_id)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes.pop("ERROR_MESSAGE").startswith("ServiceException")
    assert attributes == {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": function,
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
    }
    [record] = delivery.deliveries()
    assert (record["ok"], record["attempts"], record["outcome"]) == (False, 3, "sent_to_dlq")


def test_retries_stop_when_the_event_is_older_than_maximum_event_age(aws, delivery, fake_lambda):
    fake_lambda.always = client_error("TooManyRequestsException", 429)
    dlq_url, dlq_arn = queue(aws, "age-dlq")
    rule(
        aws,
        "aging",
        [
            {
                "Id": "fn",
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:busy",
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )
    publish()
    assert delivery.wait_idle(10)
    [message] = receive(aws, dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert (attributes["ERROR_CODE"], attributes["EXHAUSTED_RETRY_CONDITION"]) == (
        "THROTTLING",
        "MaximumEventAgeInSeconds",
    )
    assert 1 < len(fake_lambda.calls) < 186


def test_target_that_recovers_is_delivered_after_retries(aws, delivery, fake_lambda):
    fake_lambda.failures = [client_error("TooManyRequestsException", 429)] * 2
    dlq_url, dlq_arn = queue(aws, "unused-dlq")
    rule(
        aws,
        "flaky",
        [
            {
                "Id": "fn",
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:flaky",
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )
    publish()
    assert delivery.wait_idle(10)
    [record] = delivery.deliveries()
    assert (record["ok"], record["attempts"], record["error"]) == (True, 3, None)
    assert receive(aws, dlq_url) == []


def test_missing_state_machine_goes_straight_to_dlq(aws, delivery):
    dlq_url, dlq_arn = queue(aws, "nf-dlq")
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nowhere"
    rule(aws, "to-nowhere", [{"Id": "sfn", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    publish()
    assert delivery.wait_idle(10)
    [message] = receive(aws, dlq_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("NO_RESOURCE", "0")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes
    assert [r["attempts"] for r in delivery.deliveries()] == [1]


def test_without_dlq_a_failed_event_is_dropped_and_recorded(aws, delivery):
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nowhere"
    rule(aws, "drop", [{"Id": "sfn", "Arn": missing}])
    publish()
    assert delivery.wait_idle(10)
    [record] = delivery.deliveries()
    assert (record["ok"], record["outcome"], record["error_code"]) == (
        False,
        "dropped",
        "NO_RESOURCE",
    )
    assert "StateMachineDoesNotExist" in record["error"]


def test_replay_redrives_archived_event_to_state_machine_with_replay_name(aws, delivery):
    events = aws("events")
    bus_arn = events.create_event_bus(Name="replayable")["EventBusArn"]
    archive_arn = events.create_archive(ArchiveName="all", EventSourceArn=bus_arn)["ArchiveArn"]
    machine = state_machine(aws, "replayed")
    rule(aws, "to-sfn", [{"Id": "sfn", "Arn": machine}], bus="replayable")
    event_id = publish(bus="replayable")
    assert delivery.wait_idle(10)
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 1
    events.start_replay(
        ReplayName="again",
        EventSourceArn=archive_arn,
        EventStartTime=WHEN - timedelta(days=1),
        EventEndTime=datetime.now(UTC) + timedelta(hours=1),
        Destination={"Arn": bus_arn},
    )
    assert delivery.wait_idle(10)
    inputs = execution_inputs(aws, machine)
    assert len(inputs) == 2
    [live] = [i for i in inputs if "replay-name" not in i]
    [replayed] = [i for i in inputs if "replay-name" in i]
    assert live == whole_event(event_id)
    assert replayed["replay-name"] == "again"
    assert {k: v for k, v in replayed.items() if k not in ("id", "replay-name")} == {
        k: v for k, v in live.items() if k != "id"
    }
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 1  # not re-archived


def test_uninstall_drops_waiting_retries_and_leaves_no_threads(aws, fake_lambda):
    fake_lambda.always = client_error("ServiceException", 500)
    seam = EventDelivery(lambda s: fake_lambda if s == "lambda" else aws(s), retry_base_delay_s=60)
    seam.install()
    rule(aws, "stuck", [{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:x"}])
    publish()
    assert fake_lambda.started.wait(10)
    seam.uninstall()
    [record] = seam.deliveries()
    assert (record["outcome"], record["attempts"]) == ("dropped", 1)
    assert "shut down" in record["error"]
    assert not [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer) or t.name.startswith("twin-events")
    ]


# -- contract tests: one per moto 5.2.5 internal the seam relies on ------------------------------


def spy_sends(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any], bool]]:
    calls: list[tuple[Any, dict[str, Any], bool]] = []
    monkeypatch.setattr(
        events_models.Rule,
        "send_to_targets",
        lambda rule, event, transform_input=True: calls.append((rule, event, transform_input)),
    )
    return calls


def test_contract_rule_send_to_targets_signature_and_rule_attributes(aws):
    params = inspect.signature(ORIGINAL_SEND).parameters
    assert list(params) == ["self", "original_event", "transform_input"]
    assert params["transform_input"].default is True
    rule(aws, "attrs", [{"Id": "sfn", "Arn": "arn:aws:states:::stateMachine:x"}])
    bus = events_models.events_backends[ACCOUNT][REGION].event_buses["default"]
    moto_rule = bus.rules["attrs"]
    assert (moto_rule.name, moto_rule.state) == ("attrs", "ENABLED")
    assert moto_rule.arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/attrs"
    assert moto_rule.targets[0]["Id"] == "sfn"
    assert moto_rule.event_pattern.matches_event({"source": SOURCE, "detail-type": DETAIL_TYPE})


def test_contract_put_events_hands_rules_the_envelope_with_float_times(aws, monkeypatch):
    rule(aws, "spied", [{"Id": "sfn", "Arn": "arn:aws:states:::stateMachine:x"}])
    calls = spy_sends(monkeypatch)
    event_id = publish()
    [(_, event, transform)] = calls
    assert transform is True
    assert event["id"] == event_id and event["resources"] == [PACKAGE_ARN]
    assert event["time"] == WHEN.timestamp() and isinstance(event["ingestion-time"], float)
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
        "ingestion-time",
    }


def test_contract_replay_sends_archived_events_with_replay_name_untransformed(aws, monkeypatch):
    events = aws("events")
    bus_arn = events.create_event_bus(Name="contract")["EventBusArn"]
    archive = events.create_archive(ArchiveName="c", EventSourceArn=bus_arn)
    [archive_rule] = (
        events_models.events_backends[ACCOUNT][REGION].event_buses["contract"].rules.values()
    )
    assert archive_rule.targets[0]["Arn"] == f"arn:aws:events:{REGION}:::"  # seam leaves to moto
    publish(bus="contract")
    calls = spy_sends(monkeypatch)
    events.start_replay(
        ReplayName="c1",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=WHEN - timedelta(days=1),
        EventEndTime=datetime.now(UTC) + timedelta(hours=1),
        Destination={"Arn": bus_arn},
    )
    [(_, event, transform)] = calls
    assert (event["replay-name"], transform) == ("c1", False)
