"""EventBridge Scheduler in the twin (mlops/twin/scheduler): moto stores schedules, the seam
fires them to their templated targets on time, with retries, dead letters and deletion after
completion as the Scheduler user guide describes. at() and cron() run on the wall clock,
rate() on the twin's clock (1/100 here: rate(1 minute) fires every 0.6 s)."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.lambda_.function import FunctionSpec
from mlops.twin.scheduler import delivery
from mlops.twin.scheduler.expressions import ExpressionError, Rate, parse
from mlops.twin.stack import ROOT

pytestmark = pytest.mark.twin

ROLE = "arn:aws:iam::123456789012:role/scheduler"
CONTEXT = json.dumps(
    {
        "arn": "<aws.scheduler.schedule-arn>",
        "at": "<aws.scheduler.scheduled-time>",
        "execution": "<aws.scheduler.execution-id>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
)


def wait_until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return value


def at(moment: datetime) -> str:
    return f"at({moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"


def next_second(seconds: float) -> datetime:
    """A whole-second moment at least `seconds` from now (at() has second precision)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.replace(microsecond=0) + timedelta(seconds=1)


class Queue:
    def __init__(self, cloud: Any, name: str) -> None:
        self.sqs = cloud.client("sqs")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        self.arn = attributes["Attributes"]["QueueArn"]

    def messages(self) -> list[dict[str, Any]]:
        out = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages"):
            for message in batch:
                out.append(message)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return out


@pytest.fixture
def queue(local_cloud: Any) -> Queue:
    return Queue(local_cloud, f"scheduled-{uuid.uuid4().hex[:8]}")


def schedule(cloud: Any, expression: str, target: dict[str, Any], **extra: Any) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    cloud.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
        **extra,
    )
    return name


def gone(cloud: Any, name: str) -> bool:
    try:
        cloud.client("scheduler").get_schedule(Name=name)
    except ClientError as error:
        return error.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


# -- expressions (pure) -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        ("cron(0/15 * * * ? *)", None, "2026-02-07T10:07:00+00:00", "2026-02-07T10:15:00+00:00"),
        ("cron(0 8 1 * ? *)", None, "2026-02-07T10:07:00+00:00", "2026-03-01T08:00:00+00:00"),
        ("cron(15 10 ? * 6L 2026)", None, "2026-03-01T00:00:00+00:00", "2026-03-27T10:15:00+00:00"),
        ("cron(0 9 15W * ? *)", None, "2026-03-01T00:00:00+00:00", "2026-03-16T09:00:00+00:00"),
        ("cron(0 0 ? * 2#1 *)", None, "2026-03-07T00:00:00+00:00", "2026-04-06T00:00:00+00:00"),
        ("cron(0 0 L * ? *)", None, "2026-02-07T00:00:00+00:00", "2026-02-28T00:00:00+00:00"),
        (  # noon in New York on weekdays: EDT began on 8 March 2026
            "cron(0 12 ? * MON-FRI *)",
            "America/New_York",
            "2026-03-07T00:00:00+00:00",
            "2026-03-09T16:00:00+00:00",
        ),
        (
            "cron(30 6 ? JAN,JUL SUN 2027)",
            None,
            "2026-03-07T00:00:00+00:00",
            "2027-01-03T06:30:00+00:00",
        ),
    ],
)
def test_cron_expressions_name_the_next_time(expression, zone, after, expected):
    parsed = parse(expression, zone)
    assert parsed.next_after(datetime.fromisoformat(after)) == datetime.fromisoformat(expected)


def test_rate_and_at_expressions():
    assert parse("rate(5 minutes)") == Rate(300)
    assert parse("rate(1 day)") == Rate(86400)
    paris = parse("at(2026-05-01T12:00:00)", "Europe/Paris")
    assert paris.moment.astimezone(UTC) == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minutes)", "rate(5 minute)", "rate(0 hours)", "cron(0 8 * * * *)", "cron(0 8 1 * ?)",
     "cron(61 8 ? * * *)", "at(2026-13-01T00:00:00)", "every day"],
)  # fmt: skip
def test_invalid_expressions_are_refused(expression):
    with pytest.raises(ExpressionError):
        parse(expression)


# -- firing -------------------------------------------------------------------------------------
def test_a_one_time_schedule_fires_at_its_wall_clock_time_with_context_and_is_deleted(
    local_cloud, queue
):
    when = next_second(1.0)
    name = schedule(
        local_cloud,
        at(when),
        {"Arn": queue.arn, "Input": CONTEXT},
        ActionAfterCompletion="DELETE",
    )
    assert queue.messages() == []
    (message,) = wait_until(queue.messages)
    arrived = datetime.now(UTC)
    assert arrived >= when
    body = json.loads(message["Body"])
    assert body["arn"].endswith(f":schedule/default/{name}")
    assert body["at"] == f"{when:%Y-%m-%dT%H:%M:%S}Z"
    assert body["attempt"] == "1" and len(body["execution"]) == 32
    wait_until(lambda: gone(local_cloud, name))


def test_update_schedule_pushes_a_one_time_schedule_later_and_keeps_its_completion_action(
    local_cloud, queue
):
    scheduler = local_cloud.client("scheduler")
    name = schedule(local_cloud, at(next_second(1.0)), {"Arn": queue.arn, "Input": "{}"})
    later = next_second(2.5)
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression=at(later),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, "Arn": queue.arn, "Input": '{"pushed": true}'},
        ActionAfterCompletion="DELETE",
    )
    updated = scheduler.get_schedule(Name=name)
    assert (updated["ActionAfterCompletion"], updated["State"]) == ("DELETE", "ENABLED")
    (message,) = wait_until(queue.messages, timeout=30)
    assert datetime.now(UTC) >= later and json.loads(message["Body"]) == {"pushed": True}
    wait_until(lambda: gone(local_cloud, name))
    assert queue.messages() == [], "it fired once, at the later time"


def test_a_rate_schedule_fires_at_once_then_every_compressed_interval_until_its_end_date(
    local_cloud, queue
):
    end = datetime.now(UTC) + timedelta(seconds=2.2)
    name = schedule(
        local_cloud,
        "rate(1 minute)",  # 0.6 s at the cloud's 1/100
        {"Arn": queue.arn, "Input": "<aws.scheduler.scheduled-time>"},
        EndDate=end,
        ActionAfterCompletion="DELETE",
    )
    wait_until(lambda: gone(local_cloud, name), timeout=30)
    arrived = queue.messages()
    assert 3 <= len(arrived) <= 5, [m["Body"] for m in arrived]


def test_a_disabled_schedule_does_not_fire(local_cloud, queue):
    schedule(local_cloud, "rate(1 minute)", {"Arn": queue.arn}, State="DISABLED")
    time.sleep(1.5)
    assert queue.messages() == []


def test_templated_targets_step_functions_lambda_sns_and_event_bus(local_cloud, queue):
    sfn, sns, events = (local_cloud.client(s) for s in ("stepfunctions", "sns", "events"))
    machine = sfn.create_state_machine(
        name=f"scheduled-{uuid.uuid4().hex[:6]}",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    topic = sns.create_topic(Name=f"scheduled-{uuid.uuid4().hex[:6]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue.arn)
    bus = f"scheduled-{uuid.uuid4().hex[:6]}"
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    events.put_rule(Name=bus, EventBusName=bus, EventPattern=json.dumps({"source": ["app.drift"]}))
    events.put_targets(Rule=bus, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue.arn}])
    function = f"scheduled-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    fixture = Path(__file__).parent / "fixtures" / "lambda_crash"
    local_cloud.lambdas.register(FunctionSpec(function, arn, fixture, "app.quiet", {}, 30, 256))
    when = at(next_second(0.5))
    schedule(local_cloud, when, {"Arn": machine, "Input": '{"check": "drift"}'})
    schedule(local_cloud, when, {"Arn": topic, "Input": '{"via": "sns"}'})
    schedule(local_cloud, when, {"Arn": arn, "Input": '{"via": "lambda"}'})
    schedule(
        local_cloud,
        when,
        {
            "Arn": bus_arn,
            "Input": '{"via": "events"}',
            "EventBridgeParameters": {"DetailType": "Drift Check Due", "Source": "app.drift"},
        },
    )
    executions = wait_until(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == {"check": "drift"}
    bodies: list[dict[str, Any]] = []
    wait_until(lambda: bodies.extend(queue.messages()) or len(bodies) >= 2)
    by_kind = {
        ("sns" if "TopicArn" in (b := json.loads(m["Body"])) else "events"): b for m in bodies
    }
    assert json.loads(by_kind["sns"]["Message"]) == {"via": "sns"}
    assert by_kind["events"]["detail-type"] == "Drift Check Due"
    assert by_kind["events"]["source"] == "app.drift"
    assert by_kind["events"]["detail"] == {"via": "events"}
    wait_until(lambda: local_cloud.lambdas.stats().get(function, {}).get("cold_starts"))


def test_a_failing_target_goes_to_the_dead_letter_queue_with_why(local_cloud, queue):
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    name = schedule(
        local_cloud,
        at(next_second(0.2)),
        {
            "Arn": missing,
            "Input": '{"n": 1}',
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": queue.arn},
        },
    )
    (dead,) = wait_until(queue.messages)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert json.loads(dead["Body"]) == {"n": 1}
    assert attributes["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert attributes["SCHEDULE_ARN"].endswith(f"/default/{name}")
    assert attributes["TARGET_ARN"] == missing
    assert attributes["RETRY_ATTEMPTS"] == "0", "a target that does not exist is not retried"
    assert len(attributes["EXECUTION_ID"]) == 32


def test_throttled_calls_are_retried_with_the_attempt_number(local_cloud, queue, monkeypatch):
    real = delivery.call_target
    attempts: list[int] = []

    def throttled_twice(target: dict[str, Any], invocation: Any, client: Any) -> Any:
        attempts.append(invocation.attempt)
        if invocation.attempt < 3:
            error = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
            raise ClientError(error | {"ResponseMetadata": {"HTTPStatusCode": 400}}, "SendMessage")
        return real(target, invocation, client)

    monkeypatch.setattr(delivery, "call_target", throttled_twice)
    schedule(local_cloud, at(next_second(0.2)), {"Arn": queue.arn, "Input": CONTEXT})
    (message,) = wait_until(queue.messages)
    assert json.loads(message["Body"])["attempt"] == "3" and attempts == [1, 2, 3]


def test_the_provisioner_creates_schedule_groups_and_schedules(local_cloud, queue, tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Group:\n"
        "    Type: AWS::Scheduler::ScheduleGroup\n"
        "    Properties: {Name: drift-checks}\n"
        "  Check:\n"
        "    Type: AWS::Scheduler::Schedule\n"
        "    Properties:\n"
        "      GroupName: !Ref Group\n"
        "      ScheduleExpression: rate(1 hour)\n"
        "      FlexibleTimeWindow: {Mode: 'OFF'}\n"
        "      Target:\n"
        f"        Arn: {queue.arn}\n"
        f"        RoleArn: {ROLE}\n"
        '        Input: \'{"check": "drift"}\'\n'
        "        RetryPolicy: {MaximumRetryAttempts: 3}\n"
        "Outputs:\n"
        "  Schedule: {Value: !GetAtt Check.Arn}\n"
    )
    stack = Provisioner(
        local_cloud.client, local_cloud.runtime, ROOT, local_cloud.account, local_cloud.region
    ).deploy("sched", template, {})
    assert stack.outputs["Schedule"].endswith(
        f":schedule/drift-checks/{stack.physical_ids['Check']}"
    )
    described = local_cloud.client("scheduler").get_schedule(
        Name=stack.physical_ids["Check"], GroupName="drift-checks"
    )
    assert described["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    (message,) = wait_until(queue.messages)  # rate(): the first invocation comes at once
    assert json.loads(message["Body"]) == {"check": "drift"}


def test_contract_moto_stores_schedules_and_never_fires_them():
    from moto.scheduler import models, responses

    source = inspect.getsource(models)
    assert "Thread" not in source and "def fire" not in source, (
        "moto now runs schedules; revisit mlops/twin/scheduler"
    )
    init = inspect.getsource(models.Schedule.__init__)
    for attribute in (
        "schedule_expression",
        "schedule_expression_timezone",
        "start_date",
        "end_date",
        "state",
        "target",
        "action_after_completion",
        "last_modified_date",
        "group_name",
        "arn",
    ):
        assert f"self.{attribute}" in init, f"Schedule.{attribute} is gone"
    assert "self.last_modified_date = unix_time()" in inspect.getsource(models.Schedule.update)
    assert list(
        inspect.signature(models.EventBridgeSchedulerBackend.delete_schedule).parameters
    ) == [
        "self",
        "group_name",
        "name",
    ]
    update = inspect.getsource(responses)
    update = update[update.index("def update_schedule") : update.index("def list_schedules")]
    assert "ActionAfterCompletion" not in update, "moto keeps it now; the seam's patch can go"
