"""A SageMaker processing job run like `docker run --entrypoint ... <image> <args>`.

The container's /opt/ml is a per-job directory: every /opt/ml path in ContainerEntrypoint,
ContainerArguments and the Input/Output LocalPaths is rewritten into it. A script that
hard-codes /opt/ml paths elsewhere (not via its arguments) would not see the twin's files.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow

from mlops.twin.sagemaker.jobs import staging
from mlops.twin.sagemaker.jobs.common import (
    JobFailure,
    JobHost,
    JobRun,
    algorithm_error,
    check_image,
    container_env,
    job_region,
    limit_reason,
    log_tail,
    read_text,
    run_container_process,
)

CONTAINER_ROOT = "/opt/ml"
_CONTAINER_PATH = re.compile(r"(?<![\w/.-])/opt/ml(?=/|$)")
_PYTHON = {"python", "python3"}


def container_to_local(value: str, job_dir: Path) -> str:
    """Rewrite every /opt/ml path inside one argument (also '--flag=/opt/ml/...')."""
    return _CONTAINER_PATH.sub(lambda _: str(job_dir), value)


def local_path(container_path: str, job_dir: Path) -> Path:
    if not _CONTAINER_PATH.match(container_path):
        raise JobFailure(
            f"ClientError: LocalPath {container_path} must be under {CONTAINER_ROOT}/processing"
        )
    return Path(container_to_local(container_path, job_dir))


class ProcessingExecution:
    def __init__(self, host: JobHost, run: JobRun, s3: Any, env: dict[str, str], endpoint: str):
        self.host, self.run, self.s3, self.job = host, run, s3, run.job
        self.base_env, self.endpoint = env, endpoint
        self.dir = run.job_dir

    def execute(self) -> None:
        job = self.job
        self.host.update(self.run, processing_start_time=utcnow())
        try:
            check_image(job.app_specification.get("ImageUri"))
            command = self._command()
            self._write_config()
            self._stage_inputs()
            outputs = self._outputs()  # validated (and created) before the script runs
            if self.run.stop_reason:
                return self._finish("Stopped")
            outcome = run_container_process(
                self.host,
                self.run,
                command,
                self._env(),
                self.dir,
                (job.stopping_condition or {}).get("MaxRuntimeInSeconds"),
            )
            if self.run.stop_reason:
                return self._finish("Stopped")
            if outcome.returncode != 0:
                message = read_text(self.dir / "output" / "message")
                tail = message or log_tail((read_text(outcome.stderr_path) or "").splitlines())
                raise JobFailure(algorithm_error(tail.strip()))
            for local, uri in outputs:
                staging.upload_directory(self.s3, local, uri)
            self._finish("Completed")
        except JobFailure as failure:
            self._finish("Failed", failure_reason=limit_reason(str(failure)))

    def _command(self) -> list[str]:
        spec = self.job.app_specification
        entrypoint = list(spec.get("ContainerEntrypoint") or [])
        if not entrypoint:
            raise JobFailure(
                "ClientError: the twin needs AppSpecification.ContainerEntrypoint "
                "(the image's default entrypoint is not emulated)"
            )
        if entrypoint[0] in _PYTHON:  # the container's python = this venv's interpreter
            entrypoint[0] = sys.executable
        arguments = entrypoint + list(spec.get("ContainerArguments") or [])
        return [container_to_local(a, self.dir) for a in arguments]

    def _write_config(self) -> None:
        """/opt/ml/config/{processingjobconfig,resourceconfig}.json as SageMaker provides them."""
        config = self.dir / "config"
        for sub in ("config", "output", "processing"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        description = {
            "ProcessingJobName": self.job.processing_job_name,
            "ProcessingJobArn": self.job.arn,
            "AppSpecification": self.job.app_specification,
            "ProcessingInputs": self.job.processing_inputs or [],
            "ProcessingOutputConfig": self.job.processing_output_config or {},
            "Environment": dict(self.run.request.get("Environment") or {}),
        }
        (config / "processingjobconfig.json").write_text(json.dumps(description, indent=2))
        resources = {"current_host": "algo-1", "hosts": ["algo-1"]}
        (config / "resourceconfig.json").write_text(json.dumps(resources))

    def _stage_inputs(self) -> None:
        for item in self.job.processing_inputs or []:
            source = item.get("S3Input")
            if not source:
                raise JobFailure(
                    f"ClientError: input {item.get('InputName')} has no S3Input; "
                    "the twin stages only S3 inputs"
                )
            target = local_path(source["LocalPath"], self.dir)
            target.mkdir(parents=True, exist_ok=True)
            data_type = source.get("S3DataType", "S3Prefix")
            if data_type == "S3Prefix":
                staging.stage_prefix(self.s3, source["S3Uri"], target)
            elif data_type == "S3Object":
                staging.stage_object(self.s3, source["S3Uri"], target)
            else:
                raise JobFailure(
                    f"ClientError: S3DataType {data_type} is not supported by the "
                    "twin (S3Prefix, S3Object)"
                )

    def _outputs(self) -> list[tuple[Path, str]]:
        outputs = []
        for item in (self.job.processing_output_config or {}).get("Outputs", []):
            target = item.get("S3Output")
            if not target:
                raise JobFailure(
                    f"ClientError: output {item.get('OutputName')} has no S3Output; "
                    "the twin uploads only to S3"
                )
            local = local_path(target["LocalPath"], self.dir)
            local.mkdir(parents=True, exist_ok=True)
            # Continuous upload mode is uploaded at the end too: nothing reads it mid-job here.
            outputs.append((local, target["S3Uri"]))
        return outputs

    def _env(self) -> dict[str, str]:
        extra = dict(self.run.request.get("Environment") or {})
        return container_env(self.base_env, self.endpoint, job_region(self.job), extra)

    def _finish(self, status: str, **attributes: Any) -> None:
        message = read_text(self.dir / "output" / "message")
        self.host.update(
            self.run,
            processing_end_time=utcnow(),
            exit_message=limit_reason(message) if message else None,
            processing_job_status=status,
            **attributes,
        )
