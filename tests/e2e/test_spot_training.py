"""Managed spot training end to end: a spot job interrupted by the twin (its test knob) resumes
from the checkpoints train.py wrote, bills less than it took, and the registered version and its
notification carry the saving; a job interrupted past MaxWaitTimeInSeconds ends Stopped with
MaxWaitTimeExceeded and the run fails as SpotCapacityUnavailable.

One candidate, a forest big enough to be interrupted between checkpoints (600 trees, saved in
ten steps); versions are not approved, so nothing deploys. MaxRuntime 300 s and MaxWait 400 s:
on the twin's clock (1/100) the wait runs out after about 4 s."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlops.twin.stack import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

FOREST = [{"name": "rf", "algorithm": "random_forest",
           "hyperparameters": {"n_estimators": 600, "max_depth": 6}}]  # fmt: skip
JOB = "*-rf-train"


@pytest.fixture(scope="module")
def spot(harness_of: Callable[..., Any]) -> Iterator[Any]:
    twin = start_stack(
        SpotTraining="true",
        TrainingMaxRuntimeSeconds="300",
        SpotMaxWaitSeconds="400",
        CandidateConfigs=json.dumps(FOREST),
        AutoApprove="false",
    )
    try:
        yield harness_of(twin)
    finally:
        twin.close()


def training_job(harness: Any, run_arn: str) -> dict[str, Any]:
    """The run's one training job, described (found by the run's tag)."""
    sagemaker = harness.client("sagemaker")
    for summary in harness.training_jobs():
        described = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        tags = sagemaker.list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
        if {"Key": "mlops:run-id", "Value": run_arn.rsplit(":", 1)[-1]} in tags:
            return described
    raise AssertionError(f"no training job of {run_arn}")


def job_log(harness: Any, name: str) -> str:
    return (harness.twin.cloud.work_dir / "jobs" / name / "logs" / "stdout.log").read_text()


def test_an_interrupted_spot_job_resumes_from_its_checkpoint_and_records_the_saving(
    spot: Any, report: Callable[[str], None]
) -> None:
    # Given a spot capacity loss after the job's second checkpoint, 200 s long,
    rule = spot.twin.cloud.jobs.interrupt_spot(JOB, after_checkpoints=2, for_seconds=200)
    # when a dataset arrives,
    (run,) = spot.run_upload("spot.csv", spot.dataset(), timeout=300)
    # then the run registers a version from a job that was interrupted and resumed,
    spot.assert_status(run, "SUCCEEDED")
    assert spot.states_entered(run.arn)[-1] == "Registered"
    job = training_job(spot, run.arn)
    assert rule.fired == [job["TrainingJobName"]]
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses[statuses.index("Interrupted") :][:4] == [
        "Interrupted", "Pending", "Starting", "Training"
    ]  # fmt: skip
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 400}
    # from the checkpoint train.py wrote before the interruption, restored from S3,
    resumed = re.search(
        r"checkpoint: resumed from checkpoint-(\d+)\.joblib: (\d+) of 600",
        job_log(spot, job["TrainingJobName"]),
    )
    assert resumed and int(resumed.group(2)) >= 120, job_log(spot, job["TrainingJobName"])
    checkpoint_uri = job["CheckpointConfig"]["S3Uri"]
    assert re.fullmatch(r"s3://[^/]+/runs/[^/]+/checkpoints/rf/", checkpoint_uri)
    # billing less than it took, and the version and the notification say by how much.
    training, billable = job["TrainingTimeInSeconds"], job["BillableTimeInSeconds"]
    assert billable < training
    (package,) = spot.model_packages()
    lineage = spot.client("sagemaker").describe_model_package(
        ModelPackageName=package["ModelPackageArn"]
    )["CustomerMetadataProperties"]
    saving = f"{(1 - billable / training) * 100:.1f}"
    assert (lineage["training_seconds"], lineage["billable_seconds"]) == (
        str(training),
        str(billable),
    )
    assert lineage["spot_saving_percent"] == saving
    (registered,) = [
        m["body"] for m in spot.notifications([run]) if m["body"]["outcome"] == "REGISTERED"
    ]
    assert registered["training_time"]["spot_saving_percent"] == saving
    assert f"{saving}% spot saving" in registered["summary"]
    report(
        f"spot job {job['TrainingJobName']}: resumed at {resumed.group(2)} of 600 trees; "
        f"TrainingTimeInSeconds {training}, BillableTimeInSeconds {billable}: {saving}% saved"
    )


def test_a_spot_job_interrupted_past_its_max_wait_stops_and_the_run_fails_by_name(
    spot: Any,
) -> None:
    # Given a capacity loss longer than MaxWaitTimeInSeconds leaves,
    spot.twin.cloud.jobs.interrupt_spot(JOB, after_checkpoints=1, for_seconds=3600)
    before = len(spot.model_packages())
    # when a dataset arrives,
    (run,) = spot.run_upload("spot-again.csv", spot.dataset(), timeout=300)
    # then its job ends Stopped with MaxWaitTimeExceeded once the wait ran out,
    job = training_job(spot, run.arn)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")
    assert 395 <= job["TrainingTimeInSeconds"] <= 405
    # and the run fails under the named error, notified, registering nothing.
    spot.assert_status(run, "FAILED", error="SpotCapacityUnavailable")
    assert "MaxWaitTimeExceeded" in run.cause
    (failure,) = [m["body"] for m in spot.notifications([run]) if m["body"]["outcome"] == "FAILED"]
    assert failure["error"] == "SpotCapacityUnavailable"
    assert len(spot.model_packages()) == before
