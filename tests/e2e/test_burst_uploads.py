"""Bursts of uploads coalesce into one run (issue 9; README, "Bursts of uploads"), in the twin:
uploads within the quiet window start one execution, through the prefix's one-time schedule,
which trains the newest and accounts for every upload in the ledger; an upload after the window
starts a second run; a replay of handled uploads starts nothing and says so in the ledger.

The stack registers without approving (nothing deploys) and waits QUIET_S real seconds: the
twin's Scheduler fires at() on the wall clock, and the window must outlast the time a burst
takes to be sent and recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from mlops.cli import main
from mlops.twin.stack import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]
QUIET_S = 3
BURST = 5


@pytest.fixture(scope="module")
def stack(harness_of: Any) -> Iterator[Any]:
    twin = start_stack(AutoApprove="false", QuietWindowSeconds=str(QUIET_S))
    try:
        yield harness_of(twin)
    finally:
        twin.close()


def uploads(stack: Any) -> dict[str, dict[str, Any]]:
    """The ledger's upload items of the data prefix, by key."""
    outputs = stack.twin.outputs
    pk = f"uploads#s3://{outputs['DataBucketName']}/{outputs['DataPrefix']}"
    pages = (
        stack.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=outputs["LedgerTableName"],
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={":k": {"S": pk}},
        )
    )
    read = TypeDeserializer().deserialize
    items = [{k: read(v) for k, v in item.items()} for page in pages for item in page["Items"]]
    return {item["key"]: item for item in items}


def training_runs(stack: Any, runs: list[Any]) -> list[Any]:
    return [v for v in runs if v.workflow == "TrainingPipeline"]


def schedules(stack: Any) -> list[dict[str, Any]]:
    group = f"{stack.twin.stack.name}-uploads"
    return stack.client("scheduler").list_schedules(GroupName=group)["Schedules"]


def burst(stack: Any, keys: list[str]) -> tuple[list[Any], datetime, datetime]:
    """Uploads `keys` back to back; waits for what they started to end."""
    before = set(stack.watcher.executions)
    sent_from = datetime.now(UTC)
    for key in keys:
        stack.twin.upload_dataset(key, stack.dataset())
    sent_to = datetime.now(UTC)
    return stack.settle(before, timeout=240), sent_from, sent_to


def test_uploads_within_the_quiet_window_start_one_run_on_the_newest_and_account_for_each(
    stack, capsys, monkeypatch
):
    jobs_before = len(stack.training_jobs())
    keys = [f"burst-{n}.csv" for n in range(BURST)]
    runs, _, _ = burst(stack, keys)
    # One execution, started by the prefix's schedule, trained the newest upload
    (run,) = training_runs(stack, runs)
    stack.assert_status(run, "SUCCEEDED")
    described = stack.client("stepfunctions").describe_execution(executionArn=run.arn)
    start = json.loads(described["input"])["burst"]
    assert (start["started_by"], start["prefix"]) == ("schedule", "datasets/")
    assert ":schedule/" in start["schedule_arn"]
    assert "TrainCandidates" in stack.states_entered(run.arn)
    assert len(stack.training_jobs()) - jobs_before == 3  # one per candidate, once
    # Every upload is accounted for, naming the run: the newest trained, the others superseded
    recorded = uploads(stack)
    newest = recorded[f"datasets/{keys[-1]}"]
    assert (newest["status"], newest["run_id"], newest["execution_arn"]) == (
        "TRAINED",
        run.name,
        run.arn,
    )
    trained = f"s3://{newest['bucket']}/{newest['key']}#{newest['version_id']}"
    for key in keys[:-1]:
        item = recorded[f"datasets/{key}"]
        assert (item["status"], item["run_id"], item["superseded_by"]) == (
            "SUPERSEDED",
            run.name,
            trained,
        ), key
    # The one-time schedule deleted itself once it had fired (ActionAfterCompletion DELETE)
    assert schedules(stack) == []
    # and the operator sees each upload and which run superseded it
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the CLI reads the standard chain
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    shown = {e["what"]: e["why"] for e in audit_uploads(stack, capsys)}
    assert shown[f"datasets/{keys[-1]} TRAINED"] == f"run {run.name}"
    assert shown[f"datasets/{keys[0]} SUPERSEDED"] == (
        f"superseded by run {run.name}, which trained {trained}"
    )


def audit_uploads(stack: Any, capsys: Any) -> list[dict[str, Any]]:
    """`mlops audit --kind upload --json`, run in-process as an operator runs it."""
    capsys.readouterr()
    target = ["--stack-name", stack.twin.stack.name, "--endpoint-url", stack.twin.cloud.url,
              "--region", stack.twin.cloud.region]  # fmt: skip
    assert main(["audit", "--kind", "upload", "--json", *target]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_upload_after_the_quiet_window_starts_a_run_of_its_own(stack):
    runs, _, _ = burst(stack, ["later.csv"])
    (run,) = training_runs(stack, runs)
    stack.assert_status(run, "SUCCEEDED")
    item = uploads(stack)["datasets/later.csv"]
    assert (item["status"], item["run_id"]) == ("TRAINED", run.name)


def test_a_replay_of_handled_uploads_starts_nothing_and_is_counted_in_the_ledger(stack):
    # Given two handled uploads, one trained and one superseded
    keys = ["replayed-0.csv", "replayed-1.csv"]
    _, sent_from, sent_to = burst(stack, keys)
    assert {uploads(stack)[f"datasets/{k}"]["status"] for k in keys} == {"TRAINED", "SUPERSEDED"}
    before, jobs_before = set(stack.watcher.executions), len(stack.training_jobs())
    # When the archive replays their events to the NewDataset rule
    events = stack.client("events")
    archive = events.describe_archive(ArchiveName=stack.twin.outputs["EventArchiveName"])
    bus = stack.twin.outputs["EventBusName"]
    rule = next(
        r for r in events.list_rules(EventBusName=bus)["Rules"] if "NewDataset" in r["Name"]
    )
    events.start_replay(
        ReplayName=f"burst-replay-{int(time.time())}",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=sent_from - timedelta(seconds=1),
        EventEndTime=sent_to + timedelta(seconds=1),
        Destination={"Arn": archive["EventSourceArn"], "FilterArns": [rule["Arn"]]},
    )
    # Then each upload's item counts the replay, and nothing starts
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        recorded = [uploads(stack)[f"datasets/{k}"] for k in keys]
        if all(item.get("replays") for item in recorded):
            break
        time.sleep(0.5)
    assert [item.get("replays") for item in recorded] == [1, 1]
    assert all(item["last_replay"]["replay_name"].startswith("burst-replay-") for item in recorded)
    time.sleep(QUIET_S + 2)  # past any window a replay could have opened
    assert set(stack.watcher.executions) == before and schedules(stack) == []
    assert len(stack.training_jobs()) == jobs_before
