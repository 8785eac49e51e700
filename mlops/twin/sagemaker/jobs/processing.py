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
    Execution,
    JobFailure,
    algorithm_error,
    check_image,
    limit_reason,
    log_tail,
    read_text,
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


class ProcessingExecution(Execution):
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
            outcome = self.run_container(command, self.container_env(self._environment()))
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
            "Environment": self._environment(),
        }
        (config / "processingjobconfig.json").write_text(json.dumps(description, indent=2))
        resources = {"current_host": "algo-1", "hosts": ["algo-1"]}
        (config / "resourceconfig.json").write_text(json.dumps(resources))

    def _stage_inputs(self) -> None:
        for item in self.job.processing_inputs or []:
            target, source = self._local_s3(item, "input", "S3Input", "stages only S3 inputs")
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
            local, target = self._local_s3(item, "output", "S3Output", "uploads only to S3")
            # Continuous upload mode is uploaded at the end too: nothing reads it mid-job here.
            outputs.append((local, target["S3Uri"]))
        return outputs

    def _local_s3(
        self, item: dict[str, Any], kind: str, field: str, twin_does: str
    ) -> tuple[Path, dict[str, Any]]:
        """(the container directory, created; the S3Input/S3Output) of an input or output."""
        s3 = item.get(field)
        if not s3:
            name = item.get("InputName" if kind == "input" else "OutputName")
            raise JobFailure(f"ClientError: {kind} {name} has no {field}; the twin {twin_does}")
        local = local_path(s3["LocalPath"], self.dir)
        local.mkdir(parents=True, exist_ok=True)
        return local, s3

    def _environment(self) -> dict[str, str]:
        return dict(self.run.request.get("Environment") or {})

    def _finish(self, status: str, **attributes: Any) -> None:
        message = read_text(self.dir / "output" / "message")
        self.host.update(
            self.run,
            processing_end_time=utcnow(),
            exit_message=limit_reason(message) if message else None,
            processing_job_status=status,
            **attributes,
        )
