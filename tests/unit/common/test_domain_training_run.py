"""start_training_run against moto: dataset checks, the run ledger and the champion lookup."""

from typing import Any

import pytest
from mlops_common.domain.training import start_training_run
from mlops_common.errors import DatasetInvalid, EventMalformed
from mlops_common.models import Candidate, Execution, ValidateDatasetOutput

KEY = "datasets/breast_cancer.csv"


def start(
    world: Any, event: dict[str, Any], execution: Execution, **settings: Any
) -> ValidateDatasetOutput:
    return start_training_run(
        event,
        execution,
        world.validate_settings(**settings),
        world.store(),
        world.registry(),
        world.ledger(),
    )


def ledger_item(world: Any, business_key: str) -> dict[str, Any]:
    table = world.table
    return table.get_item(Key={"pk": business_key, "sk": "run"})["Item"]


def ledger_is_empty(world: Any) -> bool:
    return world.table.scan()["Count"] == 0


def test_new_dataset_version_starts_a_run_with_its_context_and_no_champion(
    world: Any, make_execution: Any
) -> None:
    # Given a new version of the reference dataset in the data bucket
    obj = world.put_dataset(KEY)
    execution = make_execution("run-a")
    # When
    result = start(world, world.s3_event(KEY, obj["version_id"], obj["etag"]), execution)
    # Then
    assert result.action == "TRAIN"
    assert result.reason == "new dataset version"
    run = result.run
    assert run is not None
    assert (run.run_id, run.execution_arn) == ("run-a", execution.id)
    assert run.dataset.model_dump() == {
        "bucket": "mlops-data",
        "key": KEY,
        "version_id": obj["version_id"],
        "etag": obj["etag"],
        "size": 120384,
        "rows": 569,
        "features": 30,
        "label": "malignant",
    }
    assert run.candidates == [Candidate.model_validate(c) for c in world.candidates]
    assert run.champion is None
    item = ledger_item(world, run.dataset.business_key)
    assert (item["run_id"], item["status"], item["kind"]) == ("run-a", "RUNNING", "training")
    assert item["execution_arn"] == execution.id


def test_same_dataset_version_again_is_skipped_naming_the_first_run(
    world: Any, make_execution: Any
) -> None:
    # Given run-a already claimed this dataset version
    obj = world.put_dataset(KEY)
    event = world.s3_event(KEY, obj["version_id"], obj["etag"])
    assert start(world, event, make_execution("run-a")).action == "TRAIN"
    # When the same event (a replay, or a duplicate delivery) starts run-b
    result = start(world, event, make_execution("run-b"))
    # Then
    assert result.action == "SKIP"
    assert result.run is None
    assert result.reason == (
        f"s3://mlops-data/{KEY} version {obj['version_id']} was already handled by run run-a "
        "(RUNNING)"
    )


def test_retried_invocation_of_the_same_run_claims_its_key_again(
    world: Any, make_execution: Any
) -> None:
    obj = world.put_dataset(KEY)
    event = world.s3_event(KEY, obj["version_id"], obj["etag"])
    assert start(world, event, make_execution("run-a")).action == "TRAIN"
    assert start(world, event, make_execution("run-a")).action == "TRAIN"


def test_a_new_version_of_the_same_key_is_a_new_run(world: Any, make_execution: Any) -> None:
    first = world.put_dataset(KEY)
    start(world, world.s3_event(KEY, first["version_id"], first["etag"]), make_execution("run-a"))
    second = world.put_dataset(KEY)
    result = start(
        world, world.s3_event(KEY, second["version_id"], second["etag"]), make_execution("run-b")
    )
    assert result.action == "TRAIN"
    assert result.run is not None and result.run.dataset.version_id == second["version_id"]


def test_failed_run_key_can_be_claimed_by_a_replay(world: Any, make_execution: Any) -> None:
    # Given run-a claimed the dataset version and then FAILED
    obj = world.put_dataset(KEY)
    event = world.s3_event(KEY, obj["version_id"], obj["etag"])
    first = start(world, event, make_execution("run-a"))
    assert first.run is not None
    key = first.run.dataset.business_key
    assert world.ledger().finish(key, "run-a", "FAILED", {"error": "TrainingFailed"}) is True
    # When the event is replayed as run-b
    result = start(world, event, make_execution("run-b"))
    # Then run-b trains and now holds the key
    assert result.action == "TRAIN"
    item = ledger_item(world, key)
    assert (item["run_id"], item["status"]) == ("run-b", "RUNNING")


def test_finished_run_that_did_not_fail_keeps_its_key(world: Any, make_execution: Any) -> None:
    obj = world.put_dataset(KEY)
    event = world.s3_event(KEY, obj["version_id"], obj["etag"])
    first = start(world, event, make_execution("run-a"))
    assert first.run is not None
    world.ledger().finish(first.run.dataset.business_key, "run-a", "REGISTERED", {})
    result = start(world, event, make_execution("run-b"))
    assert result.action == "SKIP"
    assert result.reason.endswith("was already handled by run run-a (REGISTERED)")


def test_ledger_finish_by_a_run_that_lost_the_key_is_refused(world: Any) -> None:
    ledger = world.ledger()
    assert ledger.claim("dataset#k", "run-a", {}) is None
    holder = ledger.claim("dataset#k", "run-b", {})
    assert holder is not None and holder["run_id"] == "run-a"
    assert ledger.finish("dataset#k", "run-b", "REGISTERED", {}) is False
    assert ledger.finish("dataset#k", "run-a", "NOT_BETTER", {"score": 0.5}) is True


def test_unversioned_bucket_keys_the_run_by_etag(world: Any, make_execution: Any) -> None:
    # Given a bucket without versioning: S3 sends version-id "null" and head has no VersionId
    world.s3.create_bucket(Bucket="plain-data")
    obj = world.put_object("plain-data", KEY, world.dataset_bytes())
    # When
    result = start(
        world,
        world.s3_event(KEY, "null", obj["etag"], bucket="plain-data"),
        make_execution("run-a"),
        data_bucket="plain-data",
    )
    # Then
    assert result.run is not None
    assert result.run.dataset.version_id is None
    assert result.run.dataset.business_key == f"dataset#s3://plain-data/{KEY}#{obj['etag']}"


def test_champion_is_the_newest_approved_package(world: Any, make_execution: Any) -> None:
    # Given approved v1 and v2 and a pending v3 in the group
    world.create_package("Approved", model_data_url="s3://mlops-artifacts/v1/model.tar.gz")
    v2 = world.create_package("Approved", model_data_url="s3://mlops-artifacts/v2/model.tar.gz")
    world.create_package(
        "PendingManualApproval", model_data_url="s3://mlops-artifacts/v3/model.tar.gz"
    )
    obj = world.put_dataset(KEY)
    # When
    result = start(
        world, world.s3_event(KEY, obj["version_id"], obj["etag"]), make_execution("run-a")
    )
    # Then
    assert result.run is not None and result.run.champion is not None
    assert result.run.champion.model_dump() == {
        "model_package_arn": v2,
        "version": 2,
        "model_data_url": "s3://mlops-artifacts/v2/model.tar.gz",
    }


@pytest.mark.parametrize(
    ("bucket", "key"), [("mlops-data", "other/breast_cancer.csv"), ("mlops-artifacts", KEY)]
)
def test_object_outside_the_data_location_is_malformed(
    world: Any, make_execution: Any, bucket: str, key: str
) -> None:
    obj = world.put_object(bucket, key, b"irrelevant")
    with pytest.raises(EventMalformed) as excinfo:
        start(
            world,
            world.s3_event(key, obj["version_id"], obj["etag"], bucket=bucket),
            make_execution("run-a"),
        )
    assert str(excinfo.value) == (
        f"s3://{bucket}/{key} is outside this stack's data location s3://mlops-data/datasets/"
    )
    assert ledger_is_empty(world)


def test_deleted_object_version_is_invalid_and_nothing_is_claimed(
    world: Any, make_execution: Any
) -> None:
    # Given the version named by the event was permanently deleted before the run started
    obj = world.put_dataset(KEY)
    world.s3.delete_object(Bucket="mlops-data", Key=KEY, VersionId=obj["version_id"])
    # When / Then
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, world.s3_event(KEY, obj["version_id"], obj["etag"]), make_execution("run-a"))
    assert str(excinfo.value) == (
        f"s3://mlops-data/{KEY} (version {obj['version_id']}) no longer exists"
    )
    assert ledger_is_empty(world)


def test_dataset_over_the_size_limit_is_invalid(world: Any, make_execution: Any) -> None:
    obj = world.put_dataset(KEY)
    with pytest.raises(DatasetInvalid, match=r"^120384 bytes; the limit is 1000$"):
        start(
            world,
            world.s3_event(KEY, obj["version_id"], obj["etag"]),
            make_execution("run-a"),
            max_dataset_bytes=1000,
        )
    assert ledger_is_empty(world)


def test_dataset_breaking_the_contract_is_invalid_and_nothing_is_claimed(
    world: Any, make_execution: Any
) -> None:
    obj = world.put_dataset(KEY, body=b"mean_radius,malignant\n1.0,0\n2.0,1\n")
    with pytest.raises(DatasetInvalid, match="^2 data rows; the contract needs at least 50$"):
        start(world, world.s3_event(KEY, obj["version_id"], obj["etag"]), make_execution("run-a"))
    assert ledger_is_empty(world)
