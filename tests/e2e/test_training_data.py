"""What a training run trains on, and why it runs, in the twin: the jobs read the run's own
snapshot of exactly the validated version (a look-alike key and an overwrite mid-run change
nothing), and a retrain request (design decision D1) trains again only when forced, as an
attempt of its own. The stack registers without approving (`pending`), so every valid run
registers a version with its lineage and nothing deploys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops.retrain import retrain_event, retrain_request

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def execution_input(harness: Any, arn: str) -> dict[str, Any]:
    described = harness.client("stepfunctions").describe_execution(executionArn=arn)
    return json.loads(described["input"])


def run_on(harness: Any, key: str, before: set[str], timeout: float = 60) -> Any:
    """The TrainingPipeline execution, started after `before`, whose upload event names `key`."""
    found: list[Any] = []

    def started(watcher: Any) -> bool:
        for arn, view in watcher.executions.items():
            if arn in before or view.workflow != "TrainingPipeline":
                continue
            started = execution_input(harness, arn)
            named = started.get("detail", {}).get("object", {}).get("key")
            if "burst" in started:  # RecordUpload's input names the upload it runs for
                named = (started["burst"].get("upload") or {}).get("key")
            if named == key:
                found.append(view)
                return True
        return False

    harness.wait_for(started, timeout)
    return found[0]


def scheduled(harness: Any, arn: str, resource: str) -> list[dict[str, Any]]:
    """The requests the execution sent to a service integration (TaskScheduled parameters)."""
    return [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in harness.history(arn)
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == resource
    ]


def lineage_of(harness: Any, execution_arn: str) -> dict[str, str]:
    sagemaker = harness.client("sagemaker")
    for summary in harness.model_packages():
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        lineage = package.get("CustomerMetadataProperties", {})
        if lineage.get("execution_arn") == execution_arn:
            return lineage
    raise AssertionError(f"no model package registered by {execution_arn}")


def ledger_item(harness: Any, key: str) -> dict[str, Any]:
    item = harness.client("dynamodb").get_item(
        TableName=harness.twin.outputs["LedgerTableName"],
        Key={"pk": {"S": key}, "sk": {"S": "run"}},
        ConsistentRead=True,
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_a_look_alike_key_and_an_overwrite_mid_run_change_nothing(pending: Any) -> None:
    s3, outputs = pending.client("s3"), pending.twin.outputs
    data, artifacts = outputs["DataBucketName"], outputs["ArtifactsBucketName"]
    original = pending.dataset()
    before = set(pending.watcher.executions)
    # Given a.csv, and next to it a look-alike key that training would choke on if it were
    # pulled in (other columns)
    validated = pending.twin.upload_dataset("lookalike-a.csv", original)
    pending.twin.upload_dataset("lookalike-a.csv_x.csv", b"other,columns\n1,2\n")
    run = run_on(pending, "datasets/lookalike-a.csv", before)
    # When a.csv is overwritten while its run trains
    pending.wait_for(
        lambda w: any(s.state == "TrainCandidate" for s in w.executions[run.arn].timeline.steps)
    )
    pending.twin.upload_dataset("lookalike-a.csv", b"overwritten,malignant\n1,0\n")
    runs = pending.settle(before)
    # Then the run registers what it validated; the look-alike and the overwrite are rejected
    assert pending.states_entered(run.arn)[-1] == "Registered"
    others = [v for v in runs if v.arn != run.arn]
    assert len(others) == 2 and {(v.status, v.error) for v in others} == {
        ("FAILED", "DatasetInvalid")
    }
    # Every job read the run's data folder, which holds the validated version alone
    folder = f"s3://{artifacts}/runs/{run.name}/data/"
    trainings = scheduled(pending, run.arn, "createTrainingJob.sync")
    evaluations = scheduled(pending, run.arn, "createProcessingJob.sync")
    assert len(trainings) == len(evaluations) == 3
    channels = {c["DataSource"]["S3DataSource"]["S3Uri"] for t in trainings
                for c in t["InputDataConfig"]}  # fmt: skip
    inputs = {i["S3Input"]["S3Uri"] for e in evaluations for i in e["ProcessingInputs"]
              if i["InputName"] == "data"}  # fmt: skip
    assert channels == inputs == {folder}
    described = pending.client("sagemaker").describe_training_job(
        TrainingJobName=trainings[0]["TrainingJobName"]
    )
    assert described["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == folder
    listed = s3.list_objects_v2(Bucket=artifacts, Prefix=f"runs/{run.name}/data/")["Contents"]
    assert [o["Key"] for o in listed] == [f"runs/{run.name}/data/lookalike-a.csv"]
    snapshot = s3.get_object(Bucket=artifacts, Key=f"runs/{run.name}/data/lookalike-a.csv")[
        "Body"
    ].read()
    assert snapshot == original
    # And the lineage names the validated version and the snapshot
    lineage = lineage_of(pending, run.arn)
    assert lineage["dataset_uri"] == f"s3://{data}/datasets/lookalike-a.csv"
    assert lineage["dataset_version"] == validated["VersionId"]
    assert lineage["dataset_snapshot"] == f"{folder}lookalike-a.csv"
    assert (lineage["trigger"], lineage["attempt"]) == ("upload", "1")
    current = s3.get_object(Bucket=data, Key="datasets/lookalike-a.csv")["Body"].read()
    assert current.startswith(b"overwritten")


def start(harness: Any, request: dict[str, Any]) -> Any:
    """Starts the TrainingPipeline with `request` directly and waits for its end."""
    arn = harness.client("stepfunctions").start_execution(
        stateMachineArn=harness.twin.outputs["TrainingPipelineArn"], input=json.dumps(request)
    )["executionArn"]
    harness.wait_for(lambda w: arn in w.executions and w.executions[arn].status != "RUNNING")
    return harness.watcher.executions[arn]


def send(harness: Any, request: dict[str, Any]) -> list[Any]:
    """Sends `request` as an event to the stack bus; the runs it started, once ended."""
    before = set(harness.watcher.executions)
    entry = retrain_event(request, harness.twin.outputs["EventBusName"])
    assert harness.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    return harness.settle(before)


def test_a_forced_retrain_trains_again_as_its_own_attempt_and_nothing_else_does(
    pending: Any,
) -> None:
    outputs, s3 = pending.twin.outputs, pending.client("s3")
    bucket = outputs["DataBucketName"]
    # Given first.csv and, later, second.csv were uploaded and trained
    (first,) = pending.run_upload("retrain-first.csv", pending.dataset())
    version = s3.head_object(Bucket=bucket, Key="datasets/retrain-first.csv")["VersionId"]
    (second,) = pending.run_upload("retrain-second.csv", pending.dataset())
    assert {pending.states_entered(r.arn)[-1] for r in (first, second)} == {"Registered"}
    jobs, packages = len(pending.training_jobs()), len(pending.model_packages())
    # When "latest" is retrained without force, it is second.csv, handled by its run
    latest = start(pending, retrain_request("latest", "weekly refresh", "scheduler"))
    assert pending.states_entered(latest.arn)[-1] == "AlreadyHandled"
    (skipped,) = [m["body"] for m in pending.notifications([latest.arn])]
    assert "datasets/retrain-second.csv" in skipped["summary"]
    assert f"handled by run {second.name}" in skipped["summary"]
    # When first.csv's version is retrained with force, through the stack bus
    uri = f"s3://{bucket}/datasets/retrain-first.csv"
    request = retrain_request(uri, "labels fixed (ticket 42)", "alice", True, version_id=version)
    (forced,) = send(pending, request)
    # Then it trains again, on a snapshot of its own, as attempt 2 under its own key
    assert pending.states_entered(forced.arn)[-1] == "Registered"
    assert len(pending.training_jobs()) == jobs + 3
    lineage = lineage_of(pending, forced.arn)
    assert (lineage["trigger"], lineage["attempt"], lineage["requested_by"]) == (
        "retrain", "2", "alice",
    )  # fmt: skip
    assert lineage["retrain_reason"] == "labels fixed ticket 42"
    assert (lineage["dataset_version"], lineage["retrain_request_id"]) == (
        version, request["retrain"]["request_id"],
    )  # fmt: skip
    assert lineage["dataset_snapshot"].endswith(f"/runs/{forced.name}/data/retrain-first.csv")
    attempt = ledger_item(pending, f"dataset#{uri}#{version}#attempt#2")
    assert (attempt["run_id"], attempt["status"], attempt["reason"]) == (
        forced.name, "REGISTERED", "labels fixed (ticket 42)",
    )  # fmt: skip
    assert ledger_item(pending, f"dataset#{uri}#{version}")["run_id"] == first.name
    # When the same request arrives again (a replayed event), and a plain retrain of first.csv
    (replayed,) = send(pending, request)
    plain = start(pending, retrain_request(uri, "again?", "bob", version_id=version))
    # Then neither trains: each ends AlreadyHandled naming the run that handled it
    for run, by in ((replayed, forced.name), (plain, first.name)):
        assert pending.states_entered(run.arn)[-1] == "AlreadyHandled"
        (message,) = [m["body"] for m in pending.notifications([run.arn])]
        assert f"handled by run {by}" in message["summary"]
    assert len(pending.training_jobs()) == jobs + 3
    assert len(pending.model_packages()) == packages + 1
