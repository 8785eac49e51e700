"""Managed spot training in the twin's job seam: checkpoints synced to S3 and restored, a spot
interruption (the test knob) resumed from them with billable time below training time, and an
interruption past MaxWaitTimeInSeconds ending the job Stopped with MaxWaitTimeExceeded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_sagemaker_jobs import (
    Cloud,
    Recorder,
    _describe,
    _runner,
    _start_training,
    _tar_members,
    _training_request,
    make_cloud,
)

from mlops.twin.sagemaker.jobs.runner import JobRunner

if TYPE_CHECKING:
    from conftest import MotoServer

pytestmark = [pytest.mark.twin, pytest.mark.slow]
TIME_SCALE = 0.01  # the twin's clock: 100 s of capacity wait last 1 s


@pytest.fixture(scope="module")
def cloud(moto_server: MotoServer) -> Cloud:
    return make_cloud(moto_server)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(cloud: Cloud, tmp_path: Path, recorder: Recorder) -> Iterator[JobRunner]:
    job_runner = _runner(cloud, tmp_path, recorder, stop_grace_seconds=1.0, time_scale=TIME_SCALE)
    yield job_runner
    job_runner.uninstall()


def spot_request(cloud: Cloud, max_runtime: int = 600, max_wait: int = 1200, **extra: Any) -> dict:
    request = _training_request(cloud, "train_steps.py", max_runtime=max_runtime, **extra)
    request["EnableManagedSpotTraining"] = True
    request["StoppingCondition"]["MaxWaitTimeInSeconds"] = max_wait
    request["CheckpointConfig"] = {
        "S3Uri": f"s3://{cloud.bucket}/runs/{request['TrainingJobName']}/checkpoints/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    return request


def secondary_statuses(described: dict[str, Any]) -> list[str]:
    return [t["Status"] for t in described["SecondaryStatusTransitions"]]


def checkpoint_keys(cloud: Cloud, request: dict[str, Any]) -> list[str]:
    prefix = request["CheckpointConfig"]["S3Uri"].removeprefix(f"s3://{cloud.bucket}/")
    listed = cloud.s3.list_objects_v2(Bucket=cloud.bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"].removeprefix(prefix) for o in listed)


def test_an_interrupted_spot_job_resumes_from_its_checkpoints_and_bills_less_than_it_took(
    cloud: Cloud, runner: JobRunner, tmp_path: Path
) -> None:
    request = spot_request(cloud)
    rule = runner.interrupt_spot(request["TrainingJobName"], after_checkpoints=3, for_seconds=200)
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert secondary_statuses(described) == [
        "Starting", "Downloading", "Training", "Interrupted", "Pending", "Starting", "Training",
        "Uploading", "Completed",
    ]  # fmt: skip
    assert rule.fired == [request["TrainingJobName"]]
    # The second run started after the steps the first one checkpointed, restored from S3.
    model = _tar_members(cloud, described["ModelArtifacts"]["S3ModelArtifacts"])
    assert int(model["resumed_after.txt"]) >= 3
    assert [k for k in checkpoint_keys(cloud, request) if not k.startswith(".")] == sorted(
        f"step-{n}" for n in range(1, 11)
    )
    log = (tmp_path / request["TrainingJobName"] / "logs" / "stdout.log").read_text()
    assert (
        "resumed after step 0" in log
        and f"resumed after step {int(model['resumed_after.txt'])}" in log
    )
    # 200 s of capacity wait are training time, not billable time.
    training, billable = described["TrainingTimeInSeconds"], described["BillableTimeInSeconds"]
    assert billable < training and training - billable in range(199, 202)
    assert [t["interruptions"] for t in runner.timings()] == [1]


def test_a_spot_job_that_waits_past_max_wait_ends_stopped_max_wait_time_exceeded(
    cloud: Cloud, runner: JobRunner, recorder: Recorder
) -> None:
    request = spot_request(cloud, max_runtime=60, max_wait=90)
    runner.interrupt_spot(request["TrainingJobName"], after_checkpoints=2, for_seconds=3600)
    _start_training(cloud, runner, request)
    assert runner.wait_idle(60)
    described = _describe(cloud, request["TrainingJobName"])
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "Stopped",
        "MaxWaitTimeExceeded",
    )
    assert secondary_statuses(described)[-3:] == ["Interrupted", "Pending", "MaxWaitTimeExceeded"]
    assert "MaxWaitTimeInSeconds" in described["SecondaryStatusTransitions"][-1]["StatusMessage"]
    # It waited until MaxWaitTimeInSeconds had passed, not the whole hour.
    assert 89 <= described["TrainingTimeInSeconds"] <= 91
    assert described["BillableTimeInSeconds"] < 10
    assert recorder.statuses(request["TrainingJobName"]) == ["InProgress", "Stopped"]


def test_an_on_demand_job_is_never_interrupted_and_bills_all_its_time(
    cloud: Cloud, runner: JobRunner
) -> None:
    request = spot_request(cloud, hyperparameters={"steps": json.dumps(3)})
    del request["StoppingCondition"]["MaxWaitTimeInSeconds"]
    request["EnableManagedSpotTraining"] = False
    rule = runner.interrupt_spot("train-*", after_checkpoints=1, for_seconds=200)
    _start_training(cloud, runner, request)
    assert runner.wait_idle(60)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Completed" and rule.fired == []
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]
    assert "Interrupted" not in secondary_statuses(described)
    assert checkpoint_keys(cloud, request) == ["step-1", "step-2", "step-3"]


def test_a_checkpoint_path_outside_opt_ml_fails_the_job_by_name(
    cloud: Cloud, runner: JobRunner
) -> None:
    request = spot_request(cloud)
    request["CheckpointConfig"]["LocalPath"] = "/tmp/checkpoints"
    _start_training(cloud, runner, request)
    assert runner.wait_idle(60)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert "LocalPath /tmp/checkpoints is outside /opt/ml" in described["FailureReason"]
