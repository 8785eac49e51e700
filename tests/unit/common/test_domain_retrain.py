"""start_training_run on retrain requests (design decision D1), against moto: which version a
request names ("latest" included), the business key it claims (a forced retrain is a new
attempt of its own), and how a replayed request is recognised."""

import time
from typing import Any

import pytest
from mlops_common.domain.intake import LATEST_DATASET, start_training_run
from mlops_common.errors import DatasetInvalid, EventMalformed
from mlops_common.models import ValidateDatasetOutput

KEY = "datasets/a.csv"


def start(world: Any, event: Any, run: str, make_execution: Any) -> ValidateDatasetOutput:
    return start_training_run(
        event,
        make_execution(run),
        world.validate_settings(),
        world.store(),
        world.registry(),
        world.ledger(),
        world.executions(),
    )


def retrain(dataset: Any, force: bool = False, request_id: str = "req-1", **extra: Any) -> dict:
    request = {"dataset": dataset, "reason": "labels fixed (ticket 42)", "requested_by": "alice"}
    return {"retrain": request | {"force": force, "request_id": request_id} | extra}


def trained_upload(world: Any, make_execution: Any, key: str = KEY, run: str = "run-up") -> dict:
    """An upload of `key` that `run` trained (and registered)."""
    obj = world.put_dataset(key)
    event = world.s3_event(key, obj["version_id"], obj["etag"])
    result = start(world, event, run, make_execution)
    assert result.run is not None
    world.ledger().finish(result.run.business_key, run, "REGISTERED", {})
    return {"bucket": "mlops-data", "key": key, "version_id": obj["version_id"]}


def next_second() -> None:
    """Waits for the clock's next second: S3 keeps LastModified to the second, and "newest"
    is only defined between objects written in different seconds."""
    now = int(time.time())
    while int(time.time()) == now:
        time.sleep(0.01)


def item(world: Any, key: str) -> dict[str, Any]:
    return world.table.get_item(Key={"pk": key, "sk": "run"})["Item"]


def test_plain_retrain_of_a_handled_version_names_the_run_that_handled_it(
    world: Any, make_execution: Any
) -> None:
    dataset = trained_upload(world, make_execution)
    result = start(world, retrain(dataset), "run-b", make_execution)
    assert (result.action, result.run) == ("SKIP", None)
    assert result.reason == (
        f"s3://mlops-data/{KEY} version {dataset['version_id']} was already handled by run "
        "run-up (REGISTERED)"
    )


def test_plain_retrain_of_a_version_never_trained_is_its_first_run(
    world: Any, make_execution: Any
) -> None:
    # Given a version that was uploaded before the stack (no run ever claimed it)
    obj = world.put_dataset(KEY)
    dataset = {"bucket": "mlops-data", "key": KEY, "version_id": obj["version_id"]}
    # When
    result = start(world, retrain(dataset, code_version="v9"), "run-b", make_execution)
    # Then it claims the version's own key, as attempt 1 of a retrain, with the code asked for
    assert result.action == "TRAIN" and result.run is not None
    assert result.reason == "retrain requested"
    assert result.run.business_key == result.run.dataset.business_key
    assert result.run.code_version == "v9"
    trigger = result.run.trigger
    assert trigger is not None
    assert (trigger.kind, trigger.attempt, trigger.forced) == ("retrain", 1, False)
    assert (trigger.reason, trigger.requested_by, trigger.request_id) == (
        "labels fixed (ticket 42)", "alice", "req-1",
    )  # fmt: skip
    claimed = item(world, result.run.business_key)
    assert (claimed["trigger"], claimed["request_id"], claimed["reason"]) == (
        "retrain", "req-1", "labels fixed (ticket 42)",
    )  # fmt: skip


def test_forced_retrain_of_a_handled_version_is_a_new_attempt_with_its_own_key(
    world: Any, make_execution: Any
) -> None:
    # Given run-up trained the version
    dataset = trained_upload(world, make_execution)
    base = f"dataset#s3://mlops-data/{KEY}#{dataset['version_id']}"
    # When two forced requests arrive
    second = start(world, retrain(dataset, force=True), "run-b", make_execution)
    third = start(world, retrain(dataset, True, "req-2"), "run-c", make_execution)
    # Then each trains as the next attempt, under its own key, on its own snapshot
    assert second.run is not None and third.run is not None
    assert second.run.business_key == f"{base}#attempt#2"
    assert third.run.business_key == f"{base}#attempt#3"
    assert second.run.trigger is not None and second.run.trigger.attempt == 2
    assert second.run.trigger.forced is True
    assert second.run.dataset.snapshot_uri == "s3://mlops-artifacts/runs/run-b/data/a.csv"
    claimed = item(world, f"{base}#attempt#2")
    assert (claimed["run_id"], claimed["attempt"], claimed["forced"]) == ("run-b", 2, True)
    assert (claimed["request_id"], claimed["requested_by"]) == ("req-1", "alice")
    assert item(world, base)["run_id"] == "run-up"  # the first run's record is untouched


def test_a_replayed_forced_request_is_recognised_and_ends_already_handled(
    world: Any, make_execution: Any
) -> None:
    dataset = trained_upload(world, make_execution)
    assert start(world, retrain(dataset, True), "run-b", make_execution).action == "TRAIN"
    # When the same request (same request_id) starts another execution
    replayed = start(world, retrain(dataset, True), "run-r", make_execution)
    # Then
    assert (replayed.action, replayed.run) == ("SKIP", None)
    assert replayed.reason == "retrain request req-1 was already handled by run run-b (RUNNING)"
    assert world.keys("mlops-artifacts", "runs/run-r/") == []


def test_a_replayed_forced_request_whose_attempt_failed_retries_that_attempt(
    world: Any, make_execution: Any
) -> None:
    dataset = trained_upload(world, make_execution)
    first = start(world, retrain(dataset, True), "run-b", make_execution)
    assert first.run is not None
    world.ledger().finish(first.run.business_key, "run-b", "FAILED", {})
    again = start(world, retrain(dataset, True), "run-r", make_execution)
    assert again.run is not None and again.run.business_key == first.run.business_key
    assert item(world, first.run.business_key)["run_id"] == "run-r"


def test_a_replayed_forced_request_whose_run_crashed_takes_its_attempt_over(
    world: Any, make_execution: Any
) -> None:
    dataset = trained_upload(world, make_execution)
    first = start(world, retrain(dataset, True), "run-b", make_execution)
    assert first.run is not None
    world.ended[make_execution("run-b").id] = "FAILED"  # killed; its claim still RUNNING
    again = start(world, retrain(dataset, True), "run-r", make_execution)
    assert again.run is not None and again.run.business_key == first.run.business_key
    assert item(world, first.run.business_key)["run_id"] == "run-r"


def test_forced_retrain_of_a_version_never_trained_is_attempt_one(
    world: Any, make_execution: Any
) -> None:
    obj = world.put_dataset(KEY)
    dataset = {"bucket": "mlops-data", "key": KEY, "version_id": obj["version_id"]}
    result = start(world, retrain(dataset, True), "run-b", make_execution)
    assert result.run is not None and result.run.trigger is not None
    assert result.run.business_key == result.run.dataset.business_key
    assert result.run.trigger.attempt == 1


def test_retrain_without_a_version_pins_the_current_one(world: Any, make_execution: Any) -> None:
    world.put_dataset(KEY)
    current = world.put_dataset(KEY)
    result = start(world, retrain({"bucket": "mlops-data", "key": KEY}), "run-b", make_execution)
    assert result.run is not None and result.run.dataset.version_id == current["version_id"]


def test_latest_is_the_newest_version_a_run_went_on_to_train(
    world: Any, make_execution: Any
) -> None:
    # Given a.csv then b.csv were trained, then an old a.csv version was retrained (forced)
    first = trained_upload(world, make_execution, "datasets/a.csv", "run-a")
    next_second()
    newest = trained_upload(world, make_execution, "datasets/b.csv", "run-b")
    assert start(world, retrain(first, True, "old"), "run-old", make_execution).action == "TRAIN"
    # When an operator asks to retrain "latest" (a plain request)
    result = start(world, retrain("latest", request_id="req-l"), "run-l", make_execution)
    # Then b.csv is the latest: retraining an older version does not make it newer
    assert result.action == "SKIP"
    assert result.reason == (
        f"s3://mlops-data/datasets/b.csv version {newest['version_id']} was already handled by "
        "run run-b (REGISTERED)"
    )
    pointer = world.ledger().pointer(LATEST_DATASET)
    assert (pointer["key"], pointer["run_id"]) == ("datasets/b.csv", "run-b")


def test_latest_without_any_run_is_the_newest_object_under_the_prefix(
    world: Any, make_execution: Any
) -> None:
    world.put_dataset("datasets/older.csv")
    next_second()
    newest = world.put_dataset("datasets/newer.csv")
    world.put_object("mlops-data", "datasets/folder/", b"")
    world.put_object("mlops-data", "elsewhere/newest.csv", world.dataset_bytes())
    result = start(world, retrain("latest"), "run-l", make_execution)
    assert result.run is not None
    assert (result.run.dataset.key, result.run.dataset.version_id) == (
        "datasets/newer.csv", newest["version_id"],
    )  # fmt: skip


def test_latest_with_no_dataset_at_all_is_invalid(world: Any, make_execution: Any) -> None:
    with pytest.raises(DatasetInvalid, match="^nothing to retrain: no dataset under s3://"):
        start(world, retrain("latest"), "run-l", make_execution)


@pytest.mark.parametrize(
    ("dataset", "problem"),
    [
        ({"bucket": "mlops-data", "key": "other/a.csv"}, "is outside this stack's data location"),
        ({"bucket": "mlops-data", "key": "datasets/x/"}, "is a folder, not a dataset"),
    ],
    ids=["outside", "folder"],
)
def test_a_request_for_something_that_is_not_a_dataset_is_malformed(
    world: Any, make_execution: Any, dataset: dict, problem: str
) -> None:
    with pytest.raises(EventMalformed, match=problem):
        start(world, retrain(dataset), "run-b", make_execution)
    assert world.table.scan()["Count"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": " "}, "retrain.reason"),
        ({"requested_by": ""}, "retrain.requested_by"),
        ({"forced": True}, "retrain.forced"),
        ({"request_id": "has space"}, "retrain.request_id"),
        ({"dataset": "newest"}, "retrain.dataset"),
    ],
    ids=["blank-reason", "no-requester", "misspelt-force", "bad-request-id", "bad-dataset"],
)
def test_a_malformed_request_is_refused_naming_the_field(
    world: Any, make_execution: Any, change: dict, field: str
) -> None:
    request = retrain("latest")
    request["retrain"] |= change
    with pytest.raises(EventMalformed, match=f"^not a valid retrain request: {field}"):
        start(world, request, "run-b", make_execution)
