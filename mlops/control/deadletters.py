"""The stack's dead-letter queue: events EventBridge could not deliver, with the attributes it
sets on each (EventBridge user guide, "Using dead-letter queues to process undelivered events":
RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS;
the message body is the event). Two more senders share the queue: RecordUpload, the one
function whose asynchronous invocations dead-letter there (Lambda developer guide,
"Asynchronous invocation": the event as the body, attributes RequestID, ErrorCode,
ErrorMessage), and the uploads' schedules (the schedule's input as the body, SCHEDULE_ARN and
TARGET_ARN among the attributes: "Configuring a schedule's dead-letter queue in EventBridge
Scheduler").

A redrive delivers each event again to the target it failed to reach, as that target's rule
would (its Input, InputPath or InputTransformer: event_input.py), and deletes the message only
once the target accepted it. PutEvents refuses events whose source starts with `aws.`, so an
`aws.*` event that failed to reach the stack's bus goes to the targets of the bus's rules that
match it (TestEventPattern) instead of to the bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.control.errors import NotFound, Refused
from mlops.control.event_input import target_input
from mlops.control.plane import ControlPlane
from mlops.control.replay import describe_event

_EPOCH = datetime.fromtimestamp(0, UTC)
PEEK_SECONDS = 30  # messages being listed are hidden this long, then released at once
REDRIVE_SECONDS = 300  # hidden while their redrive runs


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt: str
    sent: datetime | None
    attributes: dict[str, str]
    body: str

    @property
    def event(self) -> dict[str, Any] | None:
        try:
            document = json.loads(self.body)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def to_json(self) -> dict[str, Any]:
        event = self.event
        return {
            "message_id": self.message_id,
            "sent": self.sent.isoformat() if self.sent else None,
            "rule_arn": self.attributes.get("RULE_ARN"),
            "target_arn": self.attributes.get("TARGET_ARN"),
            "error_code": self.attributes.get("ERROR_CODE") or self.attributes.get("ErrorCode"),
            "error_message": self.attributes.get("ERROR_MESSAGE")
            or self.attributes.get("ErrorMessage"),
            "exhausted_retry_condition": self.attributes.get("EXHAUSTED_RETRY_CONDITION"),
            "retry_attempts": int(self.attributes.get("RETRY_ATTEMPTS") or 0),
            "event": describe_event(event) if event else None,
            "event_id": event.get("id") if event else None,
        }


def _receive_all(plane: ControlPlane, hide_seconds: int) -> list[DeadLetter]:
    sqs, url = plane.client("sqs"), plane.dead_letter_queue_url
    letters: dict[str, DeadLetter] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hide_seconds,
            WaitTimeSeconds=1,  # long polling asks every SQS server, so none is missed
            MessageAttributeNames=["All"],
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        if not batch:
            return sorted(letters.values(), key=lambda m: m.sent or _EPOCH)
        for message in batch:
            sent = message.get("Attributes", {}).get("SentTimestamp")
            letters[message["MessageId"]] = DeadLetter(
                message["MessageId"],
                message["ReceiptHandle"],
                datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
                {
                    name: value.get("StringValue", "")
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                message["Body"],
            )


def _release(plane: ControlPlane, letters: list[DeadLetter]) -> None:
    sqs = plane.client("sqs")
    for start in range(0, len(letters), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=plane.dead_letter_queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt, "VisibilityTimeout": 0}
                for i, letter in enumerate(letters[start : start + 10])
            ],
        )


def peek(plane: ControlPlane) -> list[DeadLetter]:
    """Every dead letter, oldest first; the queue keeps them all."""
    letters = _receive_all(plane, PEEK_SECONDS)
    _release(plane, letters)
    return letters


def redrive(plane: ControlPlane) -> list[dict[str, Any]]:
    """Delivers each dead letter again; deletes it once its target accepted it."""
    results = []
    for letter in _receive_all(plane, REDRIVE_SECONDS):
        result = letter.to_json()
        try:
            result["delivered_to"] = deliver(plane, letter)
        except Exception as exc:  # every letter is tried; each failure is reported, not raised
            _release(plane, [letter])  # back in the queue for the next attempt
            result |= {"redriven": False, "problem": f"{type(exc).__name__}: {exc}"}
        else:
            plane.client("sqs").delete_message(
                QueueUrl=plane.dead_letter_queue_url, ReceiptHandle=letter.receipt
            )
            result["redriven"] = True
        results.append(result)
    return results


def deliver(plane: ControlPlane, letter: DeadLetter) -> list[str]:
    """Delivers the letter's event to the target it failed to reach; returns what accepted it."""
    event = letter.event
    if event is None:
        raise Refused(f"message {letter.message_id} does not hold an event")
    rule_arn, target_arn = letter.attributes.get("RULE_ARN"), letter.attributes.get("TARGET_ARN")
    if not rule_arn and target_arn and letter.attributes.get("SCHEDULE_ARN"):
        return _deliver(plane, {"Arn": target_arn, "Input": letter.body}, event, "", "")
    if not rule_arn and "RequestID" in letter.attributes:  # RecordUpload's failed invocation
        function = plane.stack.resource("RecordUploadFunction").physical_id
        plane.client("lambda").invoke(
            FunctionName=function, InvocationType="Event", Payload=letter.body
        )
        return [function]
    if not rule_arn or not target_arn:
        raise Refused(f"message {letter.message_id} names no rule or target")
    bus, rule = _rule_of(rule_arn)
    target = _target(plane, bus, rule, target_arn)
    return _deliver(plane, target, event, rule_arn, rule)


def _rule_of(rule_arn: str) -> tuple[str, str]:
    """(bus, rule name) of `arn:...:rule/name` (default bus) or `arn:...:rule/bus/name`."""
    path = rule_arn.split(":", 5)[5].removeprefix("rule/")
    bus, _, name = path.rpartition("/")
    return bus or "default", name


def _target(plane: ControlPlane, bus: str, rule: str, target_arn: str) -> dict[str, Any]:
    pages = plane.client("events").get_paginator("list_targets_by_rule")
    for page in pages.paginate(Rule=rule, EventBusName=bus):
        for target in page["Targets"]:
            if target["Arn"] == target_arn:
                return target
    raise NotFound(f"rule {rule} on bus {bus} no longer targets {target_arn}")


def _deliver(
    plane: ControlPlane, target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule: str
) -> list[str]:
    arn = target["Arn"]
    parts = arn.split(":", 5)
    service, account, resource = parts[2], parts[4], parts[5]
    payload = target_input(target, event, rule_arn, rule)
    if service == "states":
        started = plane.sfn.start_execution(stateMachineArn=arn, input=payload)
        return [started["executionArn"]]
    if service == "lambda":
        plane.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload)
        return [arn]
    if service == "sqs":
        sqs = plane.client("sqs")
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=payload)
        return [arn]
    if service == "sns":
        plane.client("sns").publish(TopicArn=arn, Message=payload)
        return [arn]
    if service == "events" and resource.startswith("event-bus/"):
        return _to_bus(plane, resource.removeprefix("event-bus/"), arn, event)
    raise Refused(f"cannot redrive to {arn}")


def _to_bus(plane: ControlPlane, bus: str, bus_arn: str, event: dict[str, Any]) -> list[str]:
    events = plane.client("events")
    if not str(event.get("source", "")).startswith("aws."):
        answer = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event.get("detail", {})),
                    "Resources": event.get("resources", []),
                    "EventBusName": bus_arn,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise Refused(f"PutEvents refused the event: {answer['Entries'][0]}")
        return [bus_arn]
    accepted: list[str] = []
    for page in events.get_paginator("list_rules").paginate(EventBusName=bus):
        for rule in page["Rules"]:
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            matched = events.test_event_pattern(
                EventPattern=rule["EventPattern"], Event=json.dumps(event)
            )["Result"]
            if not matched:
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)[
                "Targets"
            ]:
                if _is_archive(target["Arn"]):
                    continue  # an archive's managed rule: a redrive is not a new event
                accepted += _deliver(plane, target, event, rule["Arn"], rule["Name"])
    if not accepted:
        raise Refused(f"no rule on {bus} matches the event any more")
    return accepted


def _is_archive(arn: str) -> bool:
    """An archive's rule targets `arn:aws:events:<region>:::` (no account, no resource)."""
    parts = arn.split(":", 5)
    return parts[2] == "events" and not parts[4] and not parts[5]
