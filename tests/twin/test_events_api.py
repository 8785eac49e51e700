"""EventBridge API behaviours the twin adds to moto 5.2.5: asynchronous replays that can be
cancelled while they run (events/replay.py), and PutEvents refusing aws.* sources from
clients while the twin's own AWS events keep their path (events/put_events.py)."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.twin


def wait_until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
    return value


@pytest.fixture
def bus(local_cloud: Any) -> Iterator[dict[str, str]]:
    """A bus with an archive and a rule sending `test.replay` events to a queue."""
    events, sqs = local_cloud.client("events"), local_cloud.client("sqs")
    name = f"bus-{uuid.uuid4().hex[:8]}"
    bus_arn = events.create_event_bus(Name=name)["EventBusArn"]
    archive = events.create_archive(ArchiveName=f"{name}-archive", EventSourceArn=bus_arn)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name=name, EventBusName=name, EventPattern=json.dumps({"source": ["test.replay"]})
    )
    events.put_targets(
        Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": queue["QueueArn"]}]
    )
    yield {"name": name, "arn": bus_arn, "archive": archive["ArchiveArn"], "queue": url}
    local_cloud.replays.event_interval_s = 0.0


def put(local_cloud: Any, bus: dict[str, str], count: int) -> None:
    entries = [
        {
            "Source": "test.replay",
            "DetailType": "t",
            "Detail": json.dumps({"n": n}),
            "EventBusName": bus["name"],
        }
        for n in range(count)
    ]
    assert local_cloud.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0


def drain(local_cloud: Any, url: str) -> list[dict[str, Any]]:
    sqs, out = local_cloud.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def replay(local_cloud: Any, bus: dict[str, str], name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return local_cloud.client("events").start_replay(
        ReplayName=name,
        EventSourceArn=bus["archive"],
        EventStartTime=now - timedelta(minutes=5),
        EventEndTime=now + timedelta(minutes=1),
        Destination={"Arn": bus["arn"]},
    )


def described(local_cloud: Any, name: str) -> dict[str, Any]:
    return local_cloud.client("events").describe_replay(ReplayName=name)


def test_a_replay_starts_runs_and_completes_in_the_background(local_cloud, bus):
    put(local_cloud, bus, 3)
    wait_until(lambda: len(drain(local_cloud, bus["queue"])) >= 3 or None)
    local_cloud.replays.event_interval_s = 0.2
    name = f"replay-{uuid.uuid4().hex[:6]}"
    started = replay(local_cloud, bus, name)
    assert started["State"] == "STARTING"
    assert described(local_cloud, name)["State"] in ("STARTING", "RUNNING")
    wait_until(lambda: described(local_cloud, name)["State"] == "RUNNING")
    done = wait_until(lambda: (d := described(local_cloud, name))["State"] == "COMPLETED" and d)
    replayed = wait_until(lambda: drain(local_cloud, bus["queue"]))
    assert {event["replay-name"] for event in replayed} == {name}
    assert len(replayed) == 3
    assert done["ReplayEndTime"] >= done["ReplayStartTime"]
    newest = max(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in replayed)
    assert abs((done["EventLastReplayedTime"] - newest).total_seconds()) < 1.0


def test_cancel_replay_while_it_runs_stops_it_before_its_next_event(local_cloud, bus):
    put(local_cloud, bus, 5)
    wait_until(lambda: len(drain(local_cloud, bus["queue"])) >= 5 or None)
    local_cloud.replays.event_interval_s = 0.5
    name = f"replay-{uuid.uuid4().hex[:6]}"
    replay(local_cloud, bus, name)
    wait_until(lambda: described(local_cloud, name)["State"] == "RUNNING")
    cancelled = local_cloud.client("events").cancel_replay(ReplayName=name)
    assert cancelled["State"] == "CANCELLING"
    wait_until(lambda: described(local_cloud, name)["State"] == "CANCELLED")
    time.sleep(0.6)
    assert len(drain(local_cloud, bus["queue"])) < 5
    with pytest.raises(ClientError) as refused:
        local_cloud.client("events").cancel_replay(ReplayName=name)
    assert refused.value.response["Error"]["Code"] == "IllegalStatusException"


def test_a_completed_replay_cannot_be_cancelled(local_cloud, bus):
    put(local_cloud, bus, 1)
    name = f"replay-{uuid.uuid4().hex[:6]}"
    replay(local_cloud, bus, name)
    wait_until(lambda: described(local_cloud, name)["State"] == "COMPLETED")
    with pytest.raises(ClientError) as refused:
        local_cloud.client("events").cancel_replay(ReplayName=name)
    assert refused.value.response["Error"]["Code"] == "IllegalStatusException"
    assert described(local_cloud, name)["State"] == "COMPLETED"


def test_put_events_refuses_aws_sources_from_clients_entry_by_entry(local_cloud, bus):
    answer = local_cloud.client("events").put_events(
        Entries=[
            {
                "Source": "aws.s3",
                "DetailType": "Object Created",
                "Detail": "{}",
                "EventBusName": bus["name"],
            },
            {
                "Source": "test.replay",
                "DetailType": "t",
                "Detail": "{}",
                "EventBusName": bus["name"],
            },
            {"Source": "aws.cloudwatch", "DetailType": "x", "Detail": "{}"},
        ]
    )
    refused, accepted, also_refused = answer["Entries"]
    assert answer["FailedEntryCount"] == 2
    assert refused["ErrorCode"] == also_refused["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in accepted and "ErrorCode" not in accepted
    assert [e["source"] for e in wait_until(lambda: drain(local_cloud, bus["queue"]))] == [
        "test.replay"
    ]


def test_the_twins_own_aws_events_still_reach_rules(local_cloud):
    events, sqs, s3 = (local_cloud.client(s) for s in ("events", "sqs", "s3"))
    name = f"s3-events-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name=name,
        EventPattern=json.dumps({"source": ["aws.s3"], "detail": {"bucket": {"name": [name]}}}),
    )
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue["QueueArn"]}])
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    received = wait_until(lambda: drain(local_cloud, url))
    assert ("aws.s3", "Object Created") in {(e["source"], e["detail-type"]) for e in received}


def test_contract_the_moto_internals_replays_and_put_events_rely_on():
    from moto.events import models, responses

    assert "replay.replay_events(archive)" in inspect.getsource(models.EventsBackend.start_replay)
    source = inspect.getsource(models)  # cancel_replay is the seam's while the cloud runs
    assert "def cancel_replay(self, name: str) -> dict[str, str]:" in source
    assert list(inspect.signature(models.EventsBackend._get_replay).parameters) == ["self", "name"]
    assert {"STARTING", "RUNNING", "CANCELLING", "CANCELLED", "COMPLETED"} <= {
        s.value for s in models.ReplayState
    }
    for attribute in ("account_id", "region", "destination", "state", "end_time", "name"):
        assert f"self.{attribute}" in inspect.getsource(models.Replay.__init__)
    assert "self.events_backend.put_events(events)" in inspect.getsource(
        responses.EventsHandler.put_events
    )
    assert "aws." not in inspect.getsource(models.EventsBackend.put_events), (
        "moto now checks sources itself; revisit mlops/twin/events/put_events.py"
    )
