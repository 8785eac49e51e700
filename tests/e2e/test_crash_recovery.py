"""A crashed function loses nothing (issue 9): the twin kills a function's worker right after
one of its AWS calls (`cloud.lambdas.crash_after`, Lambda's `Runtime.ExitError`, as when a
function runs out of memory), at each side-effecting step of a training run, and the upload is
then trained exactly once: by the retry, or by a replay of the upload.

The stack registers without approving (AutoApprove=false), so nothing deploys and every valid
run registers, whatever ran before. Each test uploads its own key and counts what was trained
and registered for that upload alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Harness

from mlops.twin.stack import start_stack

CANDIDATES = 3  # the stack's default CandidateConfigs


@pytest.fixture(scope="module")
def stack(harness_of: Any) -> Iterator[Harness]:
    twin = start_stack(AutoApprove="false")
    try:
        yield harness_of(twin)
    finally:
        twin.close()


def function(stack: Harness, logical: str) -> str:
    return stack.twin.stack.functions[logical].name


def upload(stack: Harness, key: str) -> tuple[Any, dict[str, Any]]:
    """Uploads the dataset as `key`; (the one training run it started, the object's put)."""
    before = set(stack.watcher.executions)
    put = stack.twin.upload_dataset(key, stack.dataset())
    [run] = [v for v in stack.settle(before) if v.workflow == "TrainingPipeline"]
    return run, put


def replay(stack: Harness, run: Any) -> Any:
    """Starts the TrainingPipeline again with the input `run` started with (what a replay of
    its archived event delivers) and waits for it."""
    sfn = stack.client("stepfunctions")
    described = sfn.describe_execution(executionArn=run.arn)
    before = set(stack.watcher.executions)
    sfn.start_execution(stateMachineArn=described["stateMachineArn"], input=described["input"])
    [again] = [v for v in stack.settle(before) if v.workflow == "TrainingPipeline"]
    return again


def trained_for(stack: Harness, key: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(training jobs of the runs that snapshotted `key`, versions registered from `key`)."""
    sagemaker = stack.client("sagemaker")
    runs = runs_of(stack, key)
    jobs = []
    for summary in stack.training_jobs():
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        uri = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        if uri.split("/runs/", 1)[-1].split("/", 1)[0] in runs:
            jobs.append(job["TrainingJobName"])
    versions = []
    for summary in stack.model_packages():
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package["CustomerMetadataProperties"]["dataset_uri"].endswith(f"/{key}"):
            versions.append(package)
    return jobs, versions


def runs_of(stack: Harness, key: str) -> set[str]:
    """The runs that snapshotted `key` (their data under runs/<run>/data/ of the artifacts)."""
    s3 = stack.client("s3")
    bucket = stack.twin.outputs["ArtifactsBucketName"]
    name = key.rsplit("/", 1)[-1]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="runs/").get("Contents", [])
    return {o["Key"].split("/")[1] for o in listed if o["Key"].endswith(f"/data/{name}")}


def claim(stack: Harness, put: dict[str, Any], key: str) -> dict[str, Any]:
    table = stack.client("dynamodb")
    bucket = stack.twin.outputs["DataBucketName"]
    prefix = stack.twin.outputs["DataPrefix"]
    pk = f"dataset#s3://{bucket}/{prefix}{key}#{put['VersionId']}"
    item = table.get_item(
        TableName=stack.twin.outputs["LedgerTableName"],
        Key={"pk": {"S": pk}, "sk": {"S": "run"}},
        ConsistentRead=True,
    )
    return {k: next(iter(v.values())) for k, v in item["Item"].items()}


def failures(stack: Harness, run: Any) -> list[tuple[str, str]]:
    """(state, error) of every failed Lambda invocation of the execution, in order."""
    events = stack.history(run.arn)
    by_id = {e["id"]: e for e in events}
    found = []
    for event in events:
        details = event.get("taskFailedEventDetails")
        if details:
            entered = by_id[event["previousEventId"]]
            while "stateEnteredEventDetails" not in entered:
                entered = by_id[entered["previousEventId"]]
            found.append((entered["stateEnteredEventDetails"]["name"], details["error"]))
    return found


def registered_by(versions: list[dict[str, Any]], run: Any) -> list[int]:
    return [v["ModelPackageVersion"] for v in versions
            if v["MetadataProperties"]["GeneratedBy"] == run.arn]  # fmt: skip


def test_validate_dataset_killed_after_its_claim_is_retried_and_trains_once(stack):
    key = "crash-after-claim.csv"
    fault = stack.twin.cloud.lambdas.crash_after(
        function(stack, "ValidateDatasetFunction"), "dynamodb.PutItem", times=1
    )
    run, put = upload(stack, key)
    stack.assert_status(run, "SUCCEEDED")
    assert len(fault.crashed) == 1
    assert failures(stack, run) == [("ValidateDataset", "Runtime.ExitError")]
    assert stack.states_entered(run.arn)[-1] == "Registered"
    jobs, versions = trained_for(stack, key)
    assert len(jobs) == CANDIDATES and registered_by(versions, run) and len(versions) == 1
    assert claim(stack, put, key)["status"] == "REGISTERED"


def test_validate_dataset_killed_at_every_attempt_fails_the_run_and_a_replay_trains_once(stack):
    key = "crash-every-attempt.csv"
    fault = stack.twin.cloud.lambdas.crash_after(
        function(stack, "ValidateDatasetFunction"), "dynamodb.PutItem", times=3
    )
    run, put = upload(stack, key)
    stack.assert_status(run, "FAILED", "Runtime.ExitError")
    assert len(fault.crashed) == 3  # the first attempt and both retries
    # The failure path closed the claim from the execution input: it names the crash
    closed = claim(stack, put, key)
    assert (closed["status"], closed["run_id"]) == ("FAILED", run.arn.rsplit(":", 1)[-1])
    [notified] = stack.notifications([run])
    assert notified["body"]["summary"].startswith("Runtime.ExitError: ")
    assert key in notified["body"]["summary"]
    # When the upload is replayed, it is trained, once
    again = replay(stack, run)
    stack.assert_status(again, "SUCCEEDED")
    assert stack.states_entered(again.arn)[-1] == "Registered"
    jobs, versions = trained_for(stack, key)
    assert len(jobs) == CANDIDATES and len(versions) == 1
    assert registered_by(versions, again) == [versions[0]["ModelPackageVersion"]]


def test_an_aborted_run_s_claim_is_taken_over_by_a_replay_which_trains_once(stack):
    key = "aborted-run.csv"
    sfn = stack.client("stepfunctions")
    before = set(stack.watcher.executions)
    put = stack.twin.upload_dataset(key, stack.dataset())
    stack.wait_for(lambda w: any(a not in before for a in w.executions))
    [arn] = [a for a in stack.watcher.executions if a not in before]
    # Abort it once it has claimed the upload (no Catch runs on an abort: the claim stays)
    deadline = time.monotonic() + 120
    while "TrainCandidates" not in stack.states_entered(arn):
        assert time.monotonic() < deadline, stack.why(arn)
        time.sleep(0.2)
    sfn.stop_execution(executionArn=arn, cause="operator aborted it")
    stack.settle(before)
    assert claim(stack, put, key)["status"] == "RUNNING"
    run = stack.watcher.executions[arn]
    # When the upload is replayed
    again = replay(stack, run)
    # Then the replay took the claim over and trained the upload; one version registered
    stack.assert_status(again, "SUCCEEDED")
    taken = claim(stack, put, key)
    assert (taken["status"], taken["took_over_from"]) == ("REGISTERED", arn)
    ended = sfn.describe_execution(executionArn=arn)["status"]  # the twin reports FAILED
    assert ended != "RUNNING" and taken["took_over_because"] == f"it ended {ended}"
    _, versions = trained_for(stack, key)
    assert [v["MetadataProperties"]["GeneratedBy"] for v in versions] == [again.arn]


def test_register_model_killed_after_creating_the_package_registers_it_once(stack):
    key = "crash-during-registration.csv"
    fault = stack.twin.cloud.lambdas.crash_after(
        function(stack, "RegisterModelFunction"), "sagemaker.CreateModelPackage", times=1
    )
    run, put = upload(stack, key)
    stack.assert_status(run, "SUCCEEDED")
    assert len(fault.crashed) == 1
    assert failures(stack, run) == [("RegisterModel", "Runtime.ExitError")]
    jobs, versions = trained_for(stack, key)
    assert len(jobs) == CANDIDATES and len(versions) == 1
    registration = json.loads(
        next(e for e in reversed(stack.history(run.arn)) if e["type"] == "ExecutionSucceeded")[
            "executionSucceededEventDetails"
        ]["output"]
    )["registration"]["Payload"]
    assert registration["model_package_arn"] == versions[0]["ModelPackageArn"]
    # The registry's turn was released by the retry that finished the registration
    lock = stack.client("dynamodb").get_item(
        TableName=stack.twin.outputs["LedgerTableName"],
        Key={"pk": {"S": f"lock#registry#{stack.twin.outputs['ModelPackageGroupName']}"},
             "sk": {"S": "lock"}},
    )["Item"]  # fmt: skip
    assert lock["status"]["S"] == "RELEASED"
    assert claim(stack, put, key)["status"] == "REGISTERED"


def test_record_outcome_killed_during_the_outcome_record_is_retried_and_a_replay_trains_nothing(
    stack,
):
    key = "crash-during-outcome.csv"
    fault = stack.twin.cloud.lambdas.crash_after(
        function(stack, "RecordOutcomeFunction"), "dynamodb.UpdateItem", times=1
    )
    run, put = upload(stack, key)
    stack.assert_status(run, "SUCCEEDED")
    assert len(fault.crashed) == 1
    assert failures(stack, run) == [("NotifyRegistered", "Runtime.ExitError")]
    assert claim(stack, put, key)["status"] == "REGISTERED"
    # A replay of the upload finds it handled: nothing more is trained or registered
    again = replay(stack, run)
    assert stack.states_entered(again.arn)[-1] == "AlreadyHandled"
    jobs, versions = trained_for(stack, key)
    assert len(jobs) == CANDIDATES and len(versions) == 1
