"""Each candidate's SageMaker jobs (the champion a run is judged against: domain.champion)."""

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from ..errors import EventMalformed
from ..models import Candidate, CandidatePlan, Champion, RunContext
from ..settings import PrepareCandidateSettings
from .spot import checkpoint_uri, spot_fields


def job_name(prefix: str, run_id: str, candidate: str, kind: str) -> str:
    """Deterministic per execution and candidate, so a retried task reuses the same job name
    (SageMaker rejects a duplicate name instead of starting a second job). Max 63 chars."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:10]
    return f"{prefix}-{digest}-{candidate}-{kind}"[:63].rstrip("-")


def build_candidate_plan(
    run: RunContext,
    candidate: Candidate,
    settings: PrepareCandidateSettings,
    round_: int = 0,
    champion: Champion | None = None,
) -> CandidatePlan:
    """The candidate's training and evaluation jobs. Round n > 0 (the champion changed before
    registration) evaluates the model the run trained again, against `champion`, as its own
    job (`eval-r<n>`) with its own report (`.../round-<n>/`); the training job is the run's."""
    try:
        Candidate.model_validate(candidate.model_dump())
    except ValidationError as exc:  # configuration drift between settings and payload
        raise EventMalformed(f"candidate {candidate.name}: {exc}") from exc
    data_uri = run.dataset.snapshot_prefix
    if data_uri is None:  # the jobs read the run's snapshot, never the data bucket
        raise EventMalformed(f"run {run.run_id} has no dataset snapshot to train on")
    settings = settings.at(run.code_version)
    if round_ > 0:
        run = run.model_copy(update={"champion": champion})
    training_name = job_name(settings.job_name_prefix, run.run_id, candidate.name, "train")
    eval_kind = f"eval-r{round_}" if round_ else "eval"
    eval_name = job_name(settings.job_name_prefix, run.run_id, candidate.name, eval_kind)
    output_path = f"s3://{settings.artifacts_bucket}/runs/{run.run_id}/models"
    model_data_url = f"{output_path}/{training_name}/output/model.tar.gz"
    report_prefix = (
        f"s3://{settings.artifacts_bucket}/runs/{run.run_id}/evaluation/{candidate.name}"
    ) + (f"/round-{round_}" if round_ else "")
    split_args = {
        "label": run.dataset.label,
        "test-size": settings.test_size,
        "seed": settings.split_seed,
    } | settings.problem_arguments
    tags = [
        {"Key": "mlops:run-id", "Value": run.run_id},
        {"Key": "mlops:candidate", "Value": candidate.name},
    ]
    training = {
        "TrainingJobName": training_name,
        "RoleArn": settings.sagemaker_role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": settings.training_image_uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": f"train:{m}", "Regex": rf"metric train_{m}=([0-9.]+)"}
                for m in ("accuracy", "f1")
            ],
        },
        # Script mode: the SageMaker SDK encodes every hyperparameter as a JSON string.
        "HyperParameters": {
            k.replace("_", "-"): json.dumps(v)
            for k, v in (
                {"algorithm": candidate.algorithm} | candidate.hyperparameters | split_args
            ).items()
        }
        | {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(settings.sourcedir_uri),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ResourceConfig": {
            "InstanceType": settings.training_instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "Tags": tags,
    } | spot_fields(  # StoppingCondition, EnableManagedSpotTraining, CheckpointConfig
        settings.spot_training,
        settings.spot_max_wait_seconds,
        settings.max_runtime_seconds,
        checkpoint_uri(settings.artifacts_bucket, run.run_id, candidate.name),
    )
    evaluation = _evaluation_request(
        eval_name, run, settings, data_uri, model_data_url, report_prefix, split_args, tags
    )
    return CandidatePlan(
        candidate=candidate,
        training=training,
        evaluation=evaluation,
        model_data_url=model_data_url,
        report_uri=f"{report_prefix}/evaluation.json",
        champion=run.champion,
    )


PROCESSING_DIR = "/opt/ml/processing"


def processing_input(input_name: str, uri: str, local: str) -> dict[str, Any]:
    """A ProcessingInput copying everything under an S3 prefix to `local` before the job."""
    return {
        "InputName": input_name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def processing_resources(instance_type: str) -> dict[str, Any]:
    """One instance of `instance_type` with a 10 GB volume."""
    return {
        "ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 10}
    }


def _evaluation_request(
    name: str,
    run: RunContext,
    settings: PrepareCandidateSettings,
    data_uri: str,
    model_data_url: str,
    report_prefix: str,
    split_args: dict[str, Any],
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    base = PROCESSING_DIR
    s3_input = processing_input
    inputs = [
        s3_input("code", settings.source_files_uri, f"{base}/input/code"),
        s3_input("data", data_uri, f"{base}/input/data"),
        s3_input("candidate", model_data_url, f"{base}/model/candidate"),
    ]
    if run.champion is not None:  # champion/challenger on the same held-out split
        inputs.append(s3_input("champion", run.champion.model_data_url, f"{base}/model/champion"))
    arguments = [
        "--data-dir",
        f"{base}/input/data",
        "--candidate-dir",
        f"{base}/model/candidate",
        "--champion-dir",
        f"{base}/model/champion",
        "--output-dir",
        f"{base}/evaluation",
        "--primary-metric",
        settings.primary_metric,
    ] + [str(part) for k, v in split_args.items() for part in (f"--{k}", v)]
    return {
        "ProcessingJobName": name,
        "RoleArn": settings.sagemaker_role_arn,
        "AppSpecification": {
            "ImageUri": settings.training_image_uri,
            "ContainerEntrypoint": ["python3", f"{base}/input/code/evaluate.py"],
            "ContainerArguments": arguments,
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": report_prefix,
                        "LocalPath": f"{base}/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": processing_resources(settings.processing_instance_type),
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        "Tags": tags,
    }
