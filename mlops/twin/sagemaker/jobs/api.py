"""The job operations on the wire: moto records CreateTrainingJob / CreateProcessingJob, then
the runner takes the record over and runs the job; Stop*Job goes to the runner alone."""

from __future__ import annotations

from typing import Any

from mlops.twin.gateway import Gateway, json_operation
from mlops.twin.sagemaker.backend import sagemaker_backend
from mlops.twin.sagemaker.jobs.runner import JobRunner


def connect(gateway: Gateway, jobs: JobRunner, account: str, region: str) -> None:
    def training_created(request: dict[str, Any], _response: dict[str, Any]) -> None:
        job = sagemaker_backend(account, region).training_jobs[request["TrainingJobName"]]
        jobs.start_training(job, request)

    def processing_created(request: dict[str, Any], _response: dict[str, Any]) -> None:
        job = sagemaker_backend(account, region).processing_jobs[request["ProcessingJobName"]]
        jobs.start_processing(job, request)

    gateway.after_target("SageMaker.CreateTrainingJob", training_created)
    gateway.after_target("SageMaker.CreateProcessingJob", processing_created)
    for kind in ("Training", "Processing"):
        name_field = f"{kind}JobName"
        gateway.route_target(
            f"SageMaker.Stop{kind}Job",
            json_operation(lambda r, field=name_field: jobs.stop(r[field]) or {}),
        )
