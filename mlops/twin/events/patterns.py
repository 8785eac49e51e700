"""EventBridge TestEventPattern (EventBridge API reference, TestEventPattern): whether an event
matches an event pattern. moto 5.2.5 answers it with an empty 200 (`EventsBackend.
test_event_pattern` raises NotImplementedError, the response method returns nothing); the twin
answers it with moto's own pattern matcher, the one its rules deliver by, so a test here and a
delivery agree.

Operators use it to redrive a dead-lettered `aws.*` event, which PutEvents cannot re-send, to
the targets of the rules it matches.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern

from mlops.twin.aws.responses import AwsError
from mlops.twin.gateway import Gateway, json_operation

# "The JSON must follow the format specified in AWS Events, and the following fields are
# mandatory: id, account, source, time, region, resources, detail-type." (API reference)
REQUIRED_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def connect(gateway: Gateway) -> None:
    gateway.route_target("AWSEvents.TestEventPattern", json_operation(test_event_pattern))


def test_event_pattern(request: dict[str, Any]) -> dict[str, Any]:
    try:
        event = json.loads(request.get("Event") or "")
    except ValueError as exc:
        raise AwsError("Event is not valid JSON", "ValidationException") from exc
    missing = [f for f in REQUIRED_FIELDS if not isinstance(event, dict) or f not in event]
    if missing:
        raise AwsError(f"Event is missing mandatory fields: {', '.join(missing)}")
    try:
        pattern = EventPattern.load(request.get("EventPattern"))
    except InvalidEventPatternException as exc:
        raise AwsError(exc.message, "InvalidEventPatternException") from exc
    return {"Result": pattern.matches_event(event)}
