"""Managed spot training: the request fields, their checks, and what a spot job reports.

The constraints come from the botocore model (sagemaker, shapes CreateTrainingJobRequest,
StoppingCondition, CheckpointConfig, DescribeTrainingJobResponse) and the SageMaker developer
guide page "Managed Spot Training in Amazon SageMaker AI":
- `StoppingCondition.MaxWaitTimeInSeconds` is the time spent waiting for spot capacity plus the
  time the job runs; it "must be equal to or greater than MaxRuntimeInSeconds". It is only for
  spot jobs, so an on-demand request leaves it out.
- `CheckpointConfig` names the S3 prefix SageMaker syncs the local checkpoint directory
  (`LocalPath`, default /opt/ml/checkpoints) with, and restores into it when the job restarts
  after an interruption.
- A job that waits past MaxWaitTimeInSeconds ends `Stopped` with the secondary status
  `MaxWaitTimeExceeded`.
- The saving is `(1 - BillableTimeInSeconds / TrainingTimeInSeconds) * 100` (DescribeTrainingJob,
  BillableTimeInSeconds).
"""

from typing import Any

from ..errors import ConfigurationInvalid

CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
MAX_WAIT_EXCEEDED = "MaxWaitTimeExceeded"


def check_spot(enabled: bool, max_wait_seconds: int, max_runtime_seconds: int) -> None:
    """ConfigurationInvalid unless a spot job may wait at least as long as it may run."""
    if enabled and max_wait_seconds < max_runtime_seconds:
        raise ConfigurationInvalid(
            f"SpotMaxWaitSeconds ({max_wait_seconds}) must be at least the training job's "
            f"MaxRuntimeInSeconds ({max_runtime_seconds}): the wait includes the run"
        )


def checkpoint_uri(artifacts_bucket: str, run_id: str, candidate: str) -> str:
    """Where one candidate's checkpoints live: under its run, beside the run's models."""
    return f"s3://{artifacts_bucket}/runs/{run_id}/checkpoints/{candidate}/"


def spot_fields(
    enabled: bool,
    max_wait_seconds: int,
    max_runtime_seconds: int,
    checkpoint_s3_uri: str,
) -> dict[str, Any]:
    """The CreateTrainingJob fields this adds: EnableManagedSpotTraining, StoppingCondition
    (with MaxWaitTimeInSeconds only for spot) and CheckpointConfig. Checkpoints are configured
    on demand too: the script writes them either way, and a job that restarts resumes."""
    check_spot(enabled, max_wait_seconds, max_runtime_seconds)
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": max_runtime_seconds}
    if enabled:
        stopping["MaxWaitTimeInSeconds"] = max_wait_seconds
    return {
        "EnableManagedSpotTraining": enabled,
        "StoppingCondition": stopping,
        "CheckpointConfig": {"S3Uri": checkpoint_s3_uri, "LocalPath": CHECKPOINT_LOCAL_PATH},
    }


def saving_percent(training_seconds: int | None, billable_seconds: int | None) -> float | None:
    """(1 - billable / training) * 100, None when either is unknown or training is 0."""
    if not training_seconds or billable_seconds is None:
        return None
    return round((1 - billable_seconds / training_seconds) * 100, 1)


def time_figures(training_seconds: int | None, billable_seconds: int | None) -> dict[str, str]:
    """The training job's times as lineage / notification values (unknown ones left out)."""
    figures = {
        "training_seconds": "" if training_seconds is None else str(training_seconds),
        "billable_seconds": "" if billable_seconds is None else str(billable_seconds),
    }
    saving = saving_percent(training_seconds, billable_seconds)
    figures["spot_saving_percent"] = "" if saving is None else f"{saving:.1f}"
    return {name: value for name, value in figures.items() if value}


def ran_out_of_spot_wait(description: Any) -> bool:
    """Whether a Describe*TrainingJob document (a failed .sync task's cause) is a job that
    waited for spot capacity past MaxWaitTimeInSeconds."""
    return (
        isinstance(description, dict)
        and description.get("TrainingJobStatus") == "Stopped"
        and description.get("SecondaryStatus") == MAX_WAIT_EXCEEDED
    )
