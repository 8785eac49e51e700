"""Dead letters listed with the attributes EventBridge sets, and redriven to the target each
failed to reach (EventBridge user guide, "Using dead-letter queues to process undelivered
events"), deleted only once that target accepted the event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mlops.control.aws import AwsTarget
from mlops.control.deadletters import peek, redrive
from mlops.control.plane import WORKFLOWS, ControlPlane
from mlops.control.stack import Resource, StackInfo
from mlops.twin.cloud import LocalCloud

RETRAIN = {
    "version": "0",
    "id": "3f1c",
    "detail-type": "Retrain Requested",
    "source": "mlops.control-plane",
    "account": "123456789012",
    "time": "2024-05-01T12:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"dataset": "latest", "reason": "drift", "request_id": "r-1", "requested_by": "x"},
}
UPLOAD = RETRAIN | {
    "id": "9a2b",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "detail": {"bucket": {"name": "data"}, "object": {"key": "datasets/a.csv"}},
}


def plane_for(aws: AwsTarget, queue_url: str) -> ControlPlane:
    """A ControlPlane over a hand-made stack record: the dead-letter queue is all it reads."""
    outputs = {f"{label}Arn": f"arn:aws:states:::{label}" for label in WORKFLOWS.values()}
    stack = StackInfo(
        "s",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "CREATE_COMPLETE",
        outputs,
        {},
        {"EventsDeadLetterQueue": Resource("EventsDeadLetterQueue", queue_url, "AWS::SQS::Queue")},
    )
    return ControlPlane(aws, stack)


def dead_letter(sqs: Any, url: str, event: dict, rule_arn: str, target_arn: str) -> None:
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": "NO_RESOURCE",
        "ERROR_MESSAGE": "StateMachineDoesNotExist: State Machine Does Not Exist",
        "RETRY_ATTEMPTS": "0",
    }
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )


@pytest.fixture
def retrain_rule(aws) -> dict[str, str]:
    """A stack bus whose rule starts a state machine with `{"retrain": <detail>}`, and a DLQ."""
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name="stack-bus")
    role = "arn:aws:iam::123456789012:role/states"
    machine = aws.client("stepfunctions").create_state_machine(
        name="training",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=role,
    )["stateMachineArn"]
    rule = events.put_rule(
        Name="retrain",
        EventBusName="stack-bus",
        EventPattern=json.dumps({"detail-type": ["Retrain Requested"]}),
    )["RuleArn"]
    events.put_targets(
        Rule="retrain",
        EventBusName="stack-bus",
        Targets=[
            {
                "Id": "training",
                "Arn": machine,
                "RoleArn": role,
                "InputTransformer": {
                    "InputPathsMap": {"detail": "$.detail"},
                    "InputTemplate": '{"retrain": <detail>}',
                },
            }
        ],
    )
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    return {"machine": machine, "rule": rule, "queue": url}


def test_dead_letters_are_listed_with_eventbridges_attributes_and_stay_in_the_queue(
    aws, retrain_rule
):
    sqs = aws.client("sqs")
    dead_letter(sqs, retrain_rule["queue"], RETRAIN, retrain_rule["rule"], retrain_rule["machine"])
    plane = plane_for(AwsTarget(), retrain_rule["queue"])
    (letter,) = [letter.to_json() for letter in peek(plane)]
    assert letter["rule_arn"] == retrain_rule["rule"]
    assert letter["target_arn"] == retrain_rule["machine"]
    assert (letter["error_code"], letter["retry_attempts"]) == ("NO_RESOURCE", 0)
    assert letter["error_message"].startswith("StateMachineDoesNotExist")
    assert letter["event"] == "mlops.control-plane Retrain Requested latest by x"
    # Listing hides nothing: the message is visible again at once.
    again = sqs.receive_message(QueueUrl=retrain_rule["queue"], VisibilityTimeout=0)
    assert len(again["Messages"]) == 1


def test_a_redrive_starts_the_target_with_the_rules_input_and_then_deletes_the_letter(
    aws, retrain_rule
):
    sqs = aws.client("sqs")
    dead_letter(sqs, retrain_rule["queue"], RETRAIN, retrain_rule["rule"], retrain_rule["machine"])
    (result,) = redrive(plane_for(AwsTarget(), retrain_rule["queue"]))
    assert result["redriven"] is True
    (execution_arn,) = result["delivered_to"]
    described = aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
    assert json.loads(described["input"]) == {"retrain": RETRAIN["detail"]}
    attributes = sqs.get_queue_attributes(
        QueueUrl=retrain_rule["queue"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_a_letter_whose_target_is_gone_stays_in_the_queue_with_the_problem_named(aws, retrain_rule):
    sqs = aws.client("sqs")
    gone = retrain_rule["machine"].replace(":training", ":removed")
    dead_letter(sqs, retrain_rule["queue"], RETRAIN, retrain_rule["rule"], gone)
    (result,) = redrive(plane_for(AwsTarget(), retrain_rule["queue"]))
    assert result["redriven"] is False
    assert result["problem"] == f"NotFound: rule retrain on bus stack-bus no longer targets {gone}"
    assert len(peek(plane_for(AwsTarget(), retrain_rule["queue"]))) == 1


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as started:
        yield started


@pytest.mark.twin
def test_an_aws_event_that_missed_the_stack_bus_goes_to_the_targets_of_the_rules_it_matches(
    cloud, monkeypatch
):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    # Given an ingress rule on the default bus that could not forward an S3 event to the
    # stack bus, whose rules send uploads to one queue and retrain requests to another,
    events, sqs = cloud.client("events"), cloud.client("sqs")
    bus = events.create_event_bus(Name="twin-stack-bus")["EventBusArn"]
    queues = {
        name: sqs.create_queue(QueueName=f"twin-{name}")["QueueUrl"]
        for name in ("uploads", "requests", "dlq")
    }
    for name, pattern in (("uploads", {"source": ["aws.s3"]}), ("requests", {"source": ["x"]})):
        events.put_rule(Name=name, EventBusName="twin-stack-bus", EventPattern=json.dumps(pattern))
        arn = sqs.get_queue_attributes(QueueUrl=queues[name], AttributeNames=["QueueArn"])
        events.put_targets(
            Rule=name,
            EventBusName="twin-stack-bus",
            Targets=[{"Id": name, "Arn": arn["Attributes"]["QueueArn"]}],
        )
    ingress = events.put_rule(Name="ingress", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="ingress", Targets=[{"Id": "stack-bus", "Arn": bus}])
    dead_letter(sqs, queues["dlq"], UPLOAD, ingress["RuleArn"], bus)
    # when it is redriven (PutEvents would refuse an aws.* source),
    aws = AwsTarget(region=cloud.region, endpoint_url=cloud.url)
    (result,) = redrive(plane_for(aws, queues["dlq"]))
    # then the rule that matches it delivers it, and only that one.
    assert result["redriven"] is True, result
    (delivered,) = sqs.receive_message(QueueUrl=queues["uploads"], WaitTimeSeconds=2)["Messages"]
    assert json.loads(delivered["Body"])["detail"] == UPLOAD["detail"]
    assert "Messages" not in sqs.receive_message(QueueUrl=queues["requests"])
