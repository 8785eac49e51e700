"""EventBridge TestEventPattern in the twin (EventBridge API reference, TestEventPattern),
answered with the pattern matcher moto delivers events by."""

from __future__ import annotations

import inspect
import json

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.twin

EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2024-05-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::data"],
    "detail": {"bucket": {"name": "data"}, "object": {"key": "datasets/a.csv"}},
}
PATTERN = {
    "source": ["aws.s3"],
    "detail": {"bucket": {"name": ["data"]}, "object": {"key": [{"prefix": "datasets/"}]}},
}


def _test(local_cloud, pattern, event):
    return local_cloud.client("events").test_event_pattern(
        EventPattern=json.dumps(pattern), Event=json.dumps(event)
    )["Result"]


def test_an_event_matches_a_pattern_it_satisfies_and_not_one_it_does_not(local_cloud):
    assert _test(local_cloud, PATTERN, EVENT) is True
    elsewhere = json.loads(json.dumps(EVENT))
    elsewhere["detail"]["object"]["key"] = "other/a.csv"
    assert _test(local_cloud, PATTERN, elsewhere) is False


def test_an_event_without_the_mandatory_fields_is_a_validation_error(local_cloud):
    event = {k: v for k, v in EVENT.items() if k not in ("id", "resources")}
    with pytest.raises(ClientError) as raised:
        _test(local_cloud, PATTERN, event)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "id" in error["Message"] and "resources" in error["Message"]


def test_an_invalid_pattern_is_named_as_eventbridge_names_it(local_cloud):
    with pytest.raises(ClientError) as raised:
        _test(local_cloud, {"source": "aws.s3"}, EVENT)  # values must be arrays
    assert raised.value.response["Error"]["Code"] == "InvalidEventPatternException"


def test_moto_still_lacks_test_event_pattern_and_keeps_the_matcher_the_twin_uses():
    from moto.events.models import EventPattern, EventsBackend

    with pytest.raises(NotImplementedError):
        EventsBackend.test_event_pattern(None)  # moto 5.2.5: the twin answers it instead
    assert list(inspect.signature(EventPattern.load).parameters) == ["raw_pattern"]
    assert list(inspect.signature(EventPattern.matches_event).parameters) == ["self", "event"]
