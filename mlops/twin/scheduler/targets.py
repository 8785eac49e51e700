"""EventBridge Scheduler's templated targets, called through the twin's own APIs as Scheduler
calls them (user guide, "Managing targets", templated targets):

    Step Functions state machine   StartExecution, input = Input
    Lambda function                Invoke, InvocationType Event (asynchronous), payload = Input
    SQS queue                      SendMessage, body = Input (SqsParameters.MessageGroupId)
    SNS topic                      Publish, message = Input
    EventBridge event bus          PutEvents, detail = Input, EventBridgeParameters DetailType
                                   and Source

Input may hold the context attributes Scheduler fills in for each invocation (user guide,
"Adding context attributes"): <aws.scheduler.schedule-arn>, <aws.scheduler.scheduled-time>,
<aws.scheduler.execution-id>, <aws.scheduler.attempt-number>. Without Input the twin sends
"{}" (inferred: every templated target takes a JSON document).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.twin.aws.arns import Arn
from mlops.twin.aws.timestamps import iso_seconds


class UnsupportedTarget(ValueError):
    """A target the twin's Scheduler does not call (universal targets, ECS, ...)."""


@dataclass(frozen=True)
class Invocation:
    schedule_arn: str
    scheduled_time: datetime
    execution_id: str
    attempt: int  # 1 for the first attempt

    def render(self, text: str) -> str:
        values = {
            "<aws.scheduler.schedule-arn>": self.schedule_arn,
            "<aws.scheduler.scheduled-time>": iso_seconds(self.scheduled_time),
            "<aws.scheduler.execution-id>": self.execution_id,
            "<aws.scheduler.attempt-number>": str(self.attempt),
        }
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text


def call_target(
    target: dict[str, Any], invocation: Invocation, client: Callable[[str], Any]
) -> dict[str, Any]:
    """Call the target once; returns the API's answer, raises what the client raises."""
    arn = Arn.parse(target["Arn"])
    text = invocation.render(target.get("Input") or "{}")
    if arn.service == "states" and arn.resource_type == "stateMachine":
        return client("stepfunctions").start_execution(stateMachineArn=str(arn), input=text)
    if arn.service == "lambda":
        return client("lambda").invoke(
            FunctionName=str(arn), InvocationType="Event", Payload=text.encode()
        )
    if arn.service == "sqs":
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)
        params = {"QueueUrl": url["QueueUrl"], "MessageBody": text}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            params["MessageGroupId"] = group
        return sqs.send_message(**params)
    if arn.service == "sns":
        return client("sns").publish(TopicArn=str(arn), Message=text)
    if arn.service == "events" and arn.resource_type == "event-bus":
        parameters = target.get("EventBridgeParameters") or {}
        entry = {
            "EventBusName": str(arn),
            "Source": parameters.get("Source", ""),
            "DetailType": parameters.get("DetailType", ""),
            "Detail": text,
        }
        answer = client("events").put_events(Entries=[entry])
        failed = [e for e in answer.get("Entries", []) if "ErrorCode" in e]
        if failed:
            raise TargetRefused(failed[0]["ErrorCode"], failed[0].get("ErrorMessage", ""))
        return answer
    raise UnsupportedTarget(f"the twin's Scheduler cannot call target {target['Arn']}")


class TargetRefused(Exception):
    """The target API answered but refused the call (e.g. a PutEvents entry)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
