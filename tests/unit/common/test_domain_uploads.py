"""Bursts of uploads coalesce (domain.uploads), against moto: RecordUpload's ledger records, the
prefix's latest-upload pointer, the one-time schedule it pushes, and the burst run's accounting
of every upload (ValidateDataset on a {"burst": ...} input)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_common.adapters.schedules import Schedules
from mlops_common.domain import uploads
from mlops_common.domain.intake import start_training_run
from mlops_common.errors import EventMalformed
from mlops_common.models import DatasetUpload
from mlops_common.settings import RecordUploadSettings

NOW = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
GROUP = "mlops-uploads"
PIPELINE = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-TrainingPipeline"
ROLE = "arn:aws:iam::123456789012:role/mlops-burst-scheduler"
DLQ = "arn:aws:sqs:us-east-1:123456789012:mlops-dlq"


class Starts:
    """The Executions adapter of RecordUpload: statuses as the world says, starts recorded."""

    def __init__(self, world: Any) -> None:
        self.world, self.started = world, []

    def status(self, arn: str) -> str | None:
        return self.world.ended.get(arn, "RUNNING")

    def start(self, arn: str, name: str, payload: str) -> tuple[str, bool]:
        self.started.append((arn, name, json.loads(payload)))
        return f"{arn.replace(':stateMachine:', ':execution:')}:{name}", True


@pytest.fixture
def scheduler(aws: Any) -> Any:
    client = aws.client("scheduler")
    client.create_schedule_group(Name=GROUP)
    return client


def settings(world: Any, window: int = 60) -> RecordUploadSettings:
    return RecordUploadSettings(
        ledger_table=world.table.name,
        data_bucket=world.data_bucket,
        data_prefix=world.data_prefix,
        quiet_window_seconds=window,
        training_pipeline_arn=PIPELINE,
        schedule_group=GROUP,
        scheduler_role_arn=ROLE,
        dead_letter_queue_arn=DLQ,
    )


def event(world: Any, key: str, time: str, sequencer: str, **obj: Any) -> dict[str, Any]:
    """An Object Created event of a new version of `key`, put at `time` with `sequencer`."""
    put = world.put_dataset(key) if not key.endswith("/") else {"version_id": "v", "etag": "e"}
    sent = world.s3_event(key, put["version_id"], put["etag"])
    sent["time"] = time
    sent["detail"]["object"]["sequencer"] = sequencer
    sent["detail"]["object"].update(obj)
    return sent


def record(world: Any, sent: dict[str, Any], scheduler: Any, now: datetime = NOW, **kw: Any):
    starts = kw.pop("starts", None) or Starts(world)
    return uploads.record_upload(
        sent,
        settings(world, **kw),
        world.ledger(),
        Schedules(scheduler, GROUP),
        starts,
        now,
    )


def items(world: Any) -> dict[str, dict[str, Any]]:
    pk = uploads.uploads_key(world.data_bucket, world.data_prefix)
    return {i["key"]: i for i in world.ledger().uploads(pk)}


def schedule(world: Any, scheduler: Any) -> dict[str, Any]:
    name = uploads.schedule_name(world.data_bucket, world.data_prefix)
    return scheduler.get_schedule(Name=name, GroupName=GROUP)


def burst_run(world: Any, execution: Any) -> Any:
    start = {"burst": {"bucket": world.data_bucket, "prefix": world.data_prefix,
                       "started_by": "schedule"}}  # fmt: skip
    return start_training_run(
        start,
        execution,
        world.validate_settings(),
        world.store(),
        world.registry(),
        world.ledger(),
        world.executions(),
    )


def test_an_upload_is_recorded_pending_and_schedules_its_prefix_run_after_the_quiet_window(
    world: Any, scheduler: Any
) -> None:
    sent = event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "0066A8D0E77DE42BC5")
    result = record(world, sent, scheduler)
    assert (result.outcome, result.newest, result.fires_at) == (
        "SCHEDULED",
        True,
        "2026-01-01T00:01:01",
    )
    item = items(world)["datasets/a.csv"]
    version = sent["detail"]["object"]["version-id"]
    assert (item["status"], item["version_id"], item["etag"]) == (
        "PENDING",
        version,
        sent["detail"]["object"]["etag"],
    )
    assert (item["size"], item["sequencer"], item["event_time"]) == (
        120384,
        "0066A8D0E77DE42BC5",
        "2026-01-01T00:00:00Z",
    )
    # One schedule for the prefix: at() the window later (rounded up to the second), fired on
    # time, deleting itself, starting the TrainingPipeline with the burst input
    found = schedule(world, scheduler)
    assert found["ScheduleExpression"] == "at(2026-01-01T00:01:01)"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = found["Target"]
    assert (target["Arn"], target["RoleArn"], target["DeadLetterConfig"]) == (
        PIPELINE,
        ROLE,
        {"Arn": DLQ},
    )
    assert target["RetryPolicy"] == uploads.RETRY_POLICY
    assert json.loads(target["Input"]) == {"burst": {
        "bucket": "mlops-data", "prefix": "datasets/", "started_by": "schedule",
        "schedule_arn": "<aws.scheduler.schedule-arn>",
        "scheduled_time": "<aws.scheduler.scheduled-time>"}}  # fmt: skip


def test_each_upload_pushes_the_one_schedule_later(world: Any, scheduler: Any) -> None:
    record(world, event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01"), scheduler)
    later = NOW + timedelta(seconds=40)
    record(world, event(world, "datasets/b.csv", "2026-01-01T00:00:40Z", "02"), scheduler, later)
    assert schedule(world, scheduler)["ScheduleExpression"] == "at(2026-01-01T00:01:41)"
    assert len(scheduler.list_schedules(GroupName=GROUP)["Schedules"]) == 1


def test_the_newest_upload_by_event_time_then_sequencer_stays_latest_whatever_the_delivery_order(
    world: Any, scheduler: Any
) -> None:
    newer = event(world, "datasets/a.csv", "2026-01-01T00:00:05Z", "0100")
    older_same_second = event(world, "datasets/a.csv", "2026-01-01T00:00:05Z", "FF")
    oldest = event(world, "datasets/b.csv", "2026-01-01T00:00:01Z", "FFFF")
    assert record(world, newer, scheduler).newest
    assert not record(world, older_same_second, scheduler).newest
    assert not record(world, oldest, scheduler).newest
    latest = world.ledger().pointer(uploads.latest_key(world.data_bucket, world.data_prefix))
    assert latest["version_id"] == newer["detail"]["object"]["version-id"]


def test_sequencers_compare_as_hexadecimal_numbers_not_as_strings() -> None:
    def at(sequencer: str) -> str:
        upload = DatasetUpload(bucket="b", key="k", version_id=None, etag="e",
                               sequencer=sequencer, event_time="2026-01-01T00:00:00Z")  # fmt: skip
        return uploads.order_of(upload)

    assert at("FF") < at("100") < at("0066A8D0E77DE42BC5")


def test_the_quiet_window_is_never_shorter_than_configured() -> None:
    assert uploads.fire_time(NOW, 60) == "2026-01-01T00:01:01"
    assert uploads.fire_time(NOW.replace(microsecond=0), 60) == "2026-01-01T00:01:00"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("datasets/daily/", "is a folder marker, not a dataset"),
        ("datasets/daily/part-00000.csv", "parts start no run; the folder's _SUCCESS marker does"),
        ("elsewhere/a.csv", "is outside this stack's data location s3://mlops-data/datasets/"),
    ],
)
def test_what_validate_dataset_refuses_is_recorded_refused_and_starts_nothing(
    world: Any, scheduler: Any, key: str, why: str
) -> None:
    result = record(world, event(world, key, "2026-01-01T00:00:00Z", "01"), scheduler)
    assert result.outcome == "REFUSED" and why in result.reason
    item = items(world)[key]
    assert item["status"] == "REFUSED" and why in item["reason"]
    assert scheduler.list_schedules(GroupName=GROUP)["Schedules"] == []
    assert world.ledger().pointer(uploads.latest_key(world.data_bucket, world.data_prefix)) is None


def test_a_malformed_event_is_event_malformed_and_records_nothing(
    world: Any, scheduler: Any
) -> None:
    sent = event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01")
    del sent["detail"]["bucket"]
    with pytest.raises(EventMalformed, match="not an S3 Object Created event: detail.bucket"):
        record(world, sent, scheduler)
    assert items(world) == {}


def test_a_quiet_window_of_zero_starts_the_run_at_once_with_the_burst_input(
    world: Any, scheduler: Any
) -> None:
    starts = Starts(world)
    sent = event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01")
    result = record(world, sent, scheduler, window=0, starts=starts)
    assert result.outcome == "STARTED" and result.execution_arn.startswith(
        PIPELINE.replace(":stateMachine:", ":execution:")
    )
    [(arn, name, payload)] = starts.started
    assert arn == PIPELINE and name.startswith("upload-")
    version = sent["detail"]["object"]["version-id"]
    named = {"key": "datasets/a.csv", "version": version}
    assert payload == {"burst": {"bucket": "mlops-data", "prefix": "datasets/",
                                 "started_by": "upload", "upload": named}}  # fmt: skip
    assert scheduler.list_schedules(GroupName=GROUP)["Schedules"] == []


def test_without_a_window_each_upload_s_run_trains_that_upload_and_supersedes_nothing(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    starts = Starts(world)
    for n in range(2):
        sent = event(world, f"datasets/{n}.csv", f"2026-01-01T00:00:0{n}Z", f"0{n}")
        record(world, sent, scheduler, window=0, starts=starts)
    first_input = starts.started[0][2]
    result = start_training_run(first_input, make_execution("run-0"), world.validate_settings(),
                                world.store(), world.registry(), world.ledger(),
                                world.executions())  # fmt: skip
    assert result.action == "TRAIN" and result.run.dataset.key == "datasets/0.csv"
    recorded = items(world)
    assert (recorded["datasets/0.csv"]["status"], recorded["datasets/0.csv"]["run_id"]) == (
        "TRAINED",
        "run-0",
    )
    assert recorded["datasets/1.csv"]["status"] == "PENDING"  # its own run trains it


def test_a_burst_run_trains_the_newest_upload_and_supersedes_every_older_one(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    for n in range(3):
        sent = event(world, f"datasets/{n}.csv", f"2026-01-01T00:00:0{n}Z", f"0{n}")
        record(world, sent, scheduler)
    result = burst_run(world, make_execution("burst-run"))
    assert result.action == "TRAIN" and result.run.dataset.key == "datasets/2.csv"
    recorded = items(world)
    assert recorded["datasets/2.csv"]["status"] == "TRAINED"
    newest = f"s3://mlops-data/datasets/2.csv#{recorded['datasets/2.csv']['version_id']}"
    for older in ("datasets/0.csv", "datasets/1.csv"):
        assert recorded[older]["status"] == "SUPERSEDED"
        assert (recorded[older]["run_id"], recorded[older]["superseded_by"]) == (
            "burst-run",
            newest,
        )
    assert {i["execution_arn"] for i in recorded.values()} == {make_execution("burst-run").id}


def test_an_upload_newer_than_the_run_s_stays_pending_for_the_next_run(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    record(world, event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01"), scheduler)
    newest = uploads.newest(
        uploads.BurstStart(bucket="mlops-data", prefix="datasets/", started_by="schedule"),
        world.ledger(),
    )
    record(world, event(world, "datasets/b.csv", "2026-01-01T00:00:09Z", "02"), scheduler)
    burst = uploads.BurstStart(bucket="mlops-data", prefix="datasets/", started_by="schedule")
    counts = uploads.settle(burst, newest, world.ledger(), "run-1", "arn-1")
    assert counts == {"TRAINED": 1}
    assert items(world)["datasets/b.csv"]["status"] == "PENDING"


def test_a_replay_of_a_trained_or_superseded_upload_is_counted_and_starts_nothing(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    first = event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01")
    second = event(world, "datasets/b.csv", "2026-01-01T00:00:01Z", "02")
    record(world, first, scheduler)
    record(world, second, scheduler)
    burst_run(world, make_execution("burst-run"))
    scheduler.delete_schedule(
        Name=uploads.schedule_name("mlops-data", "datasets/"), GroupName=GROUP
    )
    starts = Starts(world)
    for sent, state in ((first, "superseded"), (second, "trained")):
        replayed = sent | {"id": "replayed", "replay-name": "r1"}
        result = record(world, replayed, scheduler, starts=starts)
        assert (
            result.outcome == "ALREADY_HANDLED"
            and f"already {state} by run burst-run" in result.reason
        )
    recorded = items(world)
    assert [recorded[k]["replays"] for k in ("datasets/a.csv", "datasets/b.csv")] == [1, 1]
    assert recorded["datasets/a.csv"]["last_replay"]["replay_name"] == "r1"
    assert scheduler.list_schedules(GroupName=GROUP)["Schedules"] == [] and starts.started == []


def test_a_replay_of_the_newest_upload_whose_run_failed_runs_it_again(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    sent = event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01")
    record(world, sent, scheduler)
    run = burst_run(world, make_execution("burst-run")).run
    world.ledger().finish(run.business_key, "burst-run", "FAILED", {"error": "TrainingFailed"})
    result = record(world, sent | {"id": "replayed"}, scheduler, window=0)
    assert result.outcome == "STARTED"
    assert items(world)["datasets/a.csv"]["status"] == "PENDING"
    again = burst_run(world, make_execution("burst-run-2"))
    assert again.action == "TRAIN" and items(world)["datasets/a.csv"]["run_id"] == "burst-run-2"


def test_a_burst_run_whose_newest_upload_was_handled_settles_the_burst_on_the_run_that_did(
    world: Any, scheduler: Any, make_execution: Any
) -> None:
    record(world, event(world, "datasets/a.csv", "2026-01-01T00:00:00Z", "01"), scheduler)
    burst_run(world, make_execution("first"))
    late = event(world, "datasets/old.csv", "2025-12-31T23:59:00Z", "01")
    record(world, late, scheduler)  # delivered late, older than what was trained
    result = burst_run(world, make_execution("second"))
    assert result.action == "SKIP" and "already handled by run first" in result.reason
    assert items(world)["datasets/old.csv"]["status"] == "SUPERSEDED"
    assert items(world)["datasets/old.csv"]["run_id"] == "first"


def test_a_burst_with_no_upload_recorded_trains_nothing(world: Any, make_execution: Any) -> None:
    result = burst_run(world, make_execution("nothing"))
    assert (result.action, result.reason) == ("SKIP", "no upload under s3://mlops-data/datasets/")


@pytest.mark.parametrize(
    ("start", "problem"),
    [
        ({"burst": {"bucket": "mlops-data", "prefix": "d/"}}, "burst.started_by: Field required"),
        (
            {"burst": {"bucket": "mlops-data", "prefix": "d/", "started_by": "x"}},
            "burst.started_by",
        ),
        ({"burst": {}, "retrain": {}}, "a burst input has only the key 'burst'"),
    ],
)
def test_a_malformed_burst_input_is_event_malformed(
    world: Any, make_execution: Any, start: dict[str, Any], problem: str
) -> None:
    with pytest.raises(EventMalformed, match=problem):
        start_training_run(start, make_execution("x"), world.validate_settings(), world.store(),
                           world.registry(), world.ledger(), world.executions())  # fmt: skip


def test_the_schedule_is_created_again_after_it_deleted_itself(world: Any, scheduler: Any) -> None:
    adapter = Schedules(scheduler, GROUP)
    target = {"Arn": PIPELINE, "RoleArn": ROLE, "Input": "{}"}
    assert adapter.upsert_one_time("s", "2026-01-01T00:01:00", target) == "created"
    assert adapter.upsert_one_time("s", "2026-01-01T00:02:00", target) == "updated"
    scheduler.delete_schedule(Name="s", GroupName=GROUP)  # ActionAfterCompletion DELETE
    assert adapter.upsert_one_time("s", "2026-01-01T00:03:00", target) == "created"
