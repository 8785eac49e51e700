"""start_training_run on uploads, against moto: the dataset check, the run ledger, the run's
snapshot of the validated version and the champion lookup. Retrain requests:
test_domain_retrain.py."""

from typing import Any

import pytest
from mlops_common.adapters.s3 import S3Store
from mlops_common.domain.intake import start_training_run
from mlops_common.errors import DatasetInvalid, EventMalformed
from mlops_common.models import Candidate, Execution, ValidateDatasetOutput

KEY = "datasets/breast_cancer.csv"


def start(
    world: Any, event: dict[str, Any], execution: Execution, store: Any = None, **settings: Any
) -> ValidateDatasetOutput:
    return start_training_run(
        event,
        execution,
        world.validate_settings(**settings),
        store or world.store(),
        world.registry(),
        world.ledger(),
        world.executions(),
    )


def ledger_item(world: Any, business_key: str) -> dict[str, Any]:
    return world.table.get_item(Key={"pk": business_key, "sk": "run"})["Item"]


def ledger_is_empty(world: Any) -> bool:
    return world.table.scan()["Count"] == 0


def upload(world: Any, key: str = KEY, body: bytes | None = None) -> dict[str, Any]:
    """Puts a dataset version; returns its event, version id and etag."""
    obj = world.put_dataset(key, body)
    size = len(world.dataset_bytes() if body is None else body)
    return obj | {"event": world.s3_event(key, obj["version_id"], obj["etag"], size=size)}


def test_new_dataset_version_starts_a_run_on_a_snapshot_of_exactly_that_version(
    world: Any, make_execution: Any
) -> None:
    # Given a new version of the reference dataset in the data bucket
    obj = upload(world)
    execution = make_execution("run-a")
    # When
    result = start(world, obj["event"], execution)
    # Then the run trains on its own copy of the version, under its own prefix
    assert (result.action, result.reason) == ("TRAIN", "new dataset version")
    run = result.run
    assert run is not None
    assert (run.run_id, run.execution_arn) == ("run-a", execution.id)
    snapshot = "s3://mlops-artifacts/runs/run-a/data/breast_cancer.csv"
    assert run.dataset.model_dump() == {
        "bucket": "mlops-data",
        "key": KEY,
        "version_id": obj["version_id"],
        "etag": obj["etag"],
        "size": 120384,
        "rows": 569,
        "features": 30,
        "label": "malignant",
        "snapshot_uri": snapshot,
        "parts": None,  # a single-file dataset
        "parts_manifest_uri": None,
    }
    assert world.read(snapshot) == world.dataset_bytes()
    assert run.dataset.snapshot_prefix == "s3://mlops-artifacts/runs/run-a/data/"
    assert run.candidates == [Candidate.model_validate(c) for c in world.candidates]
    assert run.champion is None
    assert run.trigger is not None and (run.trigger.kind, run.trigger.attempt) == ("upload", 1)
    assert run.business_key == run.dataset.business_key and run.code_version is None
    item = ledger_item(world, run.dataset.business_key)
    assert (item["run_id"], item["status"], item["kind"]) == ("run-a", "RUNNING", "training")
    assert (item["execution_arn"], item["trigger"], item["attempt"]) == (execution.id, "upload", 1)


def test_a_look_alike_key_and_an_overwrite_after_the_check_do_not_reach_the_snapshot(
    world: Any, make_execution: Any
) -> None:
    # Given a.csv, a look-alike key a.csv_x.csv next to it, and a store whose a.csv is
    # overwritten the moment the check has read it (before the snapshot is copied)
    obj = upload(world, "datasets/a.csv")
    world.put_dataset("datasets/a.csv_x.csv", b"other,malignant\n1,0\n")

    class OverwrittenAfterRead(S3Store):
        def open(self, *args: Any, **kwargs: Any) -> Any:
            body = super().open(*args, **kwargs)
            world.put_dataset("datasets/a.csv", b"overwritten,malignant\n1,0\n")
            return body

    # When
    result = start(world, obj["event"], make_execution("run-a"), OverwrittenAfterRead(world.s3))
    # Then the run's data folder holds the checked version alone
    assert result.run is not None
    assert world.keys("mlops-artifacts", "runs/run-a/") == ["runs/run-a/data/a.csv"]
    assert world.read("s3://mlops-artifacts/runs/run-a/data/a.csv") == world.dataset_bytes()
    assert result.run.dataset.version_id == obj["version_id"]
    assert world.read("s3://mlops-data/datasets/a.csv").startswith(b"overwritten")


def test_a_file_name_without_csv_suffix_is_snapshotted_as_csv(
    world: Any, make_execution: Any
) -> None:
    obj = upload(world, "datasets/2026-01-export")
    result = start(world, obj["event"], make_execution("run-a"))
    assert result.run is not None
    assert result.run.dataset.snapshot_uri == (
        "s3://mlops-artifacts/runs/run-a/data/2026-01-export.csv"
    )


def test_same_dataset_version_again_is_skipped_naming_the_first_run(
    world: Any, make_execution: Any
) -> None:
    # Given run-a already claimed this dataset version
    obj = upload(world)
    assert start(world, obj["event"], make_execution("run-a")).action == "TRAIN"
    # When the same event (a replay, or a duplicate delivery) starts run-b
    result = start(world, obj["event"], make_execution("run-b"))
    # Then nothing is read or copied for run-b
    assert (result.action, result.run) == ("SKIP", None)
    assert result.reason == (
        f"s3://mlops-data/{KEY} version {obj['version_id']} was already handled by run run-a "
        "(RUNNING)"
    )
    assert world.keys("mlops-artifacts", "runs/run-b/") == []


@pytest.mark.parametrize("ended", ["FAILED", "TIMED_OUT", "ABORTED", None])
def test_a_claim_left_running_by_an_execution_that_ended_is_taken_over_by_a_replay(
    world: Any, make_execution: Any, ended: str | None
) -> None:
    # Given run-a claimed the version, then its execution ended without closing the claim
    # (its worker was killed: out of memory, a timeout, an abort), or is gone altogether
    obj = upload(world)
    crashed = make_execution("run-a")
    assert start(world, obj["event"], crashed).action == "TRAIN"
    world.ended[crashed.id] = ended
    # When a replay of the upload starts run-b
    result = start(world, obj["event"], make_execution("run-b"))
    # Then run-b trains the version, and the claim says whose it was and why it was taken over
    assert result.action == "TRAIN" and result.run is not None
    claim = ledger_item(world, result.run.business_key)
    assert (claim["run_id"], claim["status"]) == ("run-b", "RUNNING")
    assert claim["took_over_from"] == crashed.id
    assert claim["took_over_because"] == f"it ended {ended or 'and is gone'}"


def test_a_claim_whose_execution_is_still_running_is_not_taken_over(
    world: Any, make_execution: Any
) -> None:
    obj = upload(world)
    assert start(world, obj["event"], make_execution("run-a")).action == "TRAIN"
    world.ended[make_execution("run-other").id] = "FAILED"  # some other run ended, not run-a
    result = start(world, obj["event"], make_execution("run-b"))
    assert result.action == "SKIP"
    assert result.reason.endswith("was already handled by run run-a (RUNNING)")


def test_a_finished_claim_is_never_taken_over_even_when_its_execution_ended(
    world: Any, make_execution: Any
) -> None:
    obj = upload(world)
    first = start(world, obj["event"], make_execution("run-a"))
    assert first.run is not None
    world.ledger().finish(first.run.business_key, "run-a", "REGISTERED", {})
    world.ended[make_execution("run-a").id] = "SUCCEEDED"
    result = start(world, obj["event"], make_execution("run-b"))
    assert result.action == "SKIP"
    assert result.reason.endswith("was already handled by run run-a (REGISTERED)")


def test_of_two_replays_taking_over_a_stale_claim_at_once_one_wins(world: Any) -> None:
    ledger = world.ledger()
    assert ledger.claim("dataset#k", "run-a", {}) is None
    # Both found run-a ended; run-b writes first, so run-c's take-over condition fails
    assert ledger.claim("dataset#k", "run-b", {}, stale_run_id="run-a") is None
    holder = ledger.claim("dataset#k", "run-c", {}, stale_run_id="run-a")
    assert holder is not None and holder["run_id"] == "run-b"


def test_retried_invocation_of_the_same_run_claims_its_key_again(
    world: Any, make_execution: Any
) -> None:
    obj = upload(world)
    assert start(world, obj["event"], make_execution("run-a")).action == "TRAIN"
    assert start(world, obj["event"], make_execution("run-a")).action == "TRAIN"


def test_a_new_version_of_the_same_key_is_a_new_run(world: Any, make_execution: Any) -> None:
    start(world, upload(world)["event"], make_execution("run-a"))
    second = upload(world)
    result = start(world, second["event"], make_execution("run-b"))
    assert result.action == "TRAIN"
    assert result.run is not None and result.run.dataset.version_id == second["version_id"]


def test_failed_run_key_can_be_claimed_by_a_replay(world: Any, make_execution: Any) -> None:
    # Given run-a claimed the dataset version and then FAILED
    obj = upload(world)
    first = start(world, obj["event"], make_execution("run-a"))
    assert first.run is not None
    key = first.run.dataset.business_key
    assert world.ledger().finish(key, "run-a", "FAILED", {"error": "TrainingFailed"}) is True
    # When the event is replayed as run-b
    result = start(world, obj["event"], make_execution("run-b"))
    # Then run-b trains and now holds the key
    assert result.action == "TRAIN"
    item = ledger_item(world, key)
    assert (item["run_id"], item["status"]) == ("run-b", "RUNNING")


def test_finished_run_that_did_not_fail_keeps_its_key(world: Any, make_execution: Any) -> None:
    obj = upload(world)
    first = start(world, obj["event"], make_execution("run-a"))
    assert first.run is not None
    world.ledger().finish(first.run.dataset.business_key, "run-a", "REGISTERED", {})
    result = start(world, obj["event"], make_execution("run-b"))
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
    assert world.read(result.run.dataset.snapshot_uri) == world.dataset_bytes()


def test_unversioned_object_overwritten_since_its_event_is_rejected(
    world: Any, make_execution: Any
) -> None:
    # Given the event names content that an overwrite replaced (no version to read it by)
    world.s3.create_bucket(Bucket="plain-data")
    obj = world.put_object("plain-data", KEY, world.dataset_bytes())
    now = world.put_object("plain-data", KEY, world.dataset_bytes() + b"\n")
    event = world.s3_event(KEY, None, obj["etag"], bucket="plain-data")
    # When / Then the run refuses the other content instead of training on it
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, event, make_execution("run-a"), data_bucket="plain-data")
    assert str(excinfo.value) == (
        f"s3://plain-data/{KEY} (etag {obj['etag']}): the object changed since the event "
        f"(etag now {now['etag']})"
    )


def test_champion_is_the_newest_approved_package(world: Any, make_execution: Any) -> None:
    # Given approved v1 and v2 and a pending v3 in the group
    world.create_package("Approved", model_data_url="s3://mlops-artifacts/v1/model.tar.gz")
    v2 = world.create_package("Approved", model_data_url="s3://mlops-artifacts/v2/model.tar.gz")
    world.create_package(
        "PendingManualApproval", model_data_url="s3://mlops-artifacts/v3/model.tar.gz"
    )
    # When
    result = start(world, upload(world)["event"], make_execution("run-a"))
    # Then
    assert result.run is not None and result.run.champion is not None
    assert result.run.champion.model_dump() == {
        "model_package_arn": v2,
        "version": 2,
        "model_data_url": "s3://mlops-artifacts/v2/model.tar.gz",
        "feature_schema_uri": None,  # registered without one: no schema comparison
        "feature_schema_sha256": None,
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


def test_folder_marker_is_skipped_without_a_claim(world: Any, make_execution: Any) -> None:
    # Given the console's "Create folder": a zero-byte object whose key ends in "/"
    obj = world.put_object("mlops-data", "datasets/2026/", b"")
    event = world.s3_event("datasets/2026/", obj["version_id"], obj["etag"], size=0)
    # When
    result = start(world, event, make_execution("run-a"))
    # Then
    assert (result.action, result.run) == ("SKIP", None)
    assert result.reason == "s3://mlops-data/datasets/2026/ is a folder marker, not a dataset"
    assert ledger_is_empty(world)


def rejection(world: Any, key: str, run: str) -> dict[str, Any]:
    item = ledger_item(world, key)
    assert (item["status"], item["run_id"]) == ("REJECTED", run)
    return item


@pytest.mark.parametrize(
    ("body", "settings", "problem"),
    [
        (b"", {}, "the file is empty"),
        (b"mean_radius,malignant\n1.0,0\n2.0,1\n", {}, "2 data rows; the contract needs at "
         "least 50"),
        (None, {"max_dataset_bytes": 1000}, "120384 bytes; the limit is 1000"),
    ],
    ids=["zero-bytes", "breaks-the-contract", "over-the-size-limit"],
)  # fmt: skip
def test_rejected_upload_leaves_a_rejected_ledger_item_with_the_reason(
    world: Any, make_execution: Any, body: bytes | None, settings: dict, problem: str
) -> None:
    obj = upload(world, body=body)
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, obj["event"], make_execution("run-a"), **settings)
    assert str(excinfo.value) == f"s3://mlops-data/{KEY} version {obj['version_id']}: {problem}"
    key = f"dataset#s3://mlops-data/{KEY}#{obj['version_id']}"
    assert rejection(world, key, "run-a")["reason"] == problem
    assert world.keys("mlops-artifacts") == []  # nothing snapshotted, nothing trained


def test_deleted_object_version_is_rejected(world: Any, make_execution: Any) -> None:
    # Given the version named by the event was permanently deleted before the run started
    obj = upload(world)
    world.s3.delete_object(Bucket="mlops-data", Key=KEY, VersionId=obj["version_id"])
    # When / Then
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, obj["event"], make_execution("run-a"))
    assert str(excinfo.value) == (
        f"s3://mlops-data/{KEY} version {obj['version_id']}: the object version no longer exists"
    )
    rejection(world, f"dataset#s3://mlops-data/{KEY}#{obj['version_id']}", "run-a")


def test_a_rejected_version_is_checked_again_by_a_replay(world: Any, make_execution: Any) -> None:
    # Given run-a rejected an upload of 10 rows under the contract's 50
    rows = "".join(f"{i}.0,{i % 2}\n" for i in range(10))
    obj = upload(world, body=b"mean_radius,malignant\n" + rows.encode())
    with pytest.raises(DatasetInvalid):
        start(world, obj["event"], make_execution("run-a"))
    # When its event is replayed under a contract it meets (a stack with MinRows 10)
    result = start(world, obj["event"], make_execution("run-b"), min_rows=10)
    # Then run-b claims the key again, checks the version anew and trains
    assert result.action == "TRAIN" and result.run is not None
    item = ledger_item(world, result.run.dataset.business_key)
    assert (item["run_id"], item["status"]) == ("run-b", "RUNNING")


def test_a_run_that_breaks_after_its_claim_frees_the_key_for_a_replay(
    world: Any, make_execution: Any
) -> None:
    # Given the snapshot cannot be written (say, S3 throttles the copy)
    obj = upload(world)

    class CopyFails(S3Store):
        def copy_version(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("S3 is throttling")

    # When run-a breaks after claiming the version
    with pytest.raises(ConnectionError):
        start(world, obj["event"], make_execution("run-a"), CopyFails(world.s3))
    # Then its claim is FAILED, naming the error, and a replay trains
    key = f"dataset#s3://mlops-data/{KEY}#{obj['version_id']}"
    item = ledger_item(world, key)
    assert (item["status"], item["details"]) == ("FAILED", {"error": "ConnectionError"})
    assert start(world, obj["event"], make_execution("run-b")).action == "TRAIN"
