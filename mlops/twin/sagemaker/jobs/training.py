"""A SageMaker training job run the way the scikit-learn framework container runs it.

The platform part (container layout, channel download, artifact upload, status) is done here;
the container part is the real sagemaker-training toolkit (`python -m sagemaker_training.cli.train`,
the container's `train` entry point) in ONE subprocess with SAGEMAKER_BASE_DIR=<job dir> standing
in for /opt/ml. The toolkit downloads `sagemaker_submit_directory`, exports the SM_* environment
and runs `sagemaker_program` with the hyperparameters as CLI args, exactly as in the container.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow

from mlops.twin.aws.s3_uri import join_s3_uri
from mlops.twin.sagemaker.jobs import staging
from mlops.twin.sagemaker.jobs.attempts import Attempts
from mlops.twin.sagemaker.jobs.common import (
    MAX_RUNTIME_EXCEEDED,
    Execution,
    JobFailure,
    JobHost,
    JobRun,
    algorithm_error,
    check_image,
    limit_reason,
    log_tail,
    read_text,
)
from mlops.twin.sagemaker.jobs.spot import MAX_WAIT_EXCEEDED, Stopwatch

HOST = "algo-1"  # SageMaker's name for the first training instance
# Prefixes of the failure messages the toolkit itself writes to output/failure
# (errors.*Error class names, or "Framework Error:" for its own exceptions).
_TOOLKIT_FAILURE = re.compile(r"^(\w+Error:\s*\n?ExitCode|Framework Error:|SMTrainingCompiler)")
# The toolkit's stderr around the script's own: its log lines, the end of its "Invoking user
# script" message (followed by the command line) and its failure report.
_TOOLKIT_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ sagemaker-training-toolkit ")
_TOOLKIT_INVOKING = "Invoking script with the following command:"
_TOOLKIT_FAILURE_MARKER = "Reporting training FAILURE"
# moto's FakeTrainingJob replaces the request's MetricDefinitions with this placeholder.
_MOTO_PLACEHOLDER_METRIC = "test:dcg"
_MESSAGES = {
    "Starting": "Launching requested ML instances",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    MAX_RUNTIME_EXCEEDED: "Training job stopped: it exceeded StoppingCondition.MaxRuntimeInSeconds",
    MAX_WAIT_EXCEEDED: "Training job stopped: waiting for spot capacity and training took longer "
    "than StoppingCondition.MaxWaitTimeInSeconds",
}


def metric_definitions(job: Any, request: dict[str, Any]) -> list[dict[str, str]]:
    """The request's own MetricDefinitions (moto overwrote the job's copy with a placeholder)."""
    if "AlgorithmSpecification" in request:
        return list(request["AlgorithmSpecification"].get("MetricDefinitions") or [])
    own = job.algorithm_specification.get("MetricDefinitions") or []
    return [d for d in own if d.get("Name") != _MOTO_PLACEHOLDER_METRIC]


def transition(job: Any, status: str, message: str | None = None) -> list[dict[str, Any]]:
    """SecondaryStatusTransitions with the open one closed and `status` appended (new list)."""
    now = utcnow()
    closed = [dict(t, EndTime=t.get("EndTime", now)) for t in job.secondary_status_transitions]
    item: dict[str, Any] = {"Status": status, "StartTime": now}
    item["StatusMessage"] = limit_reason(message or _MESSAGES.get(status, status))
    if status in ("Completed", "Failed", "Stopped", MAX_RUNTIME_EXCEEDED, MAX_WAIT_EXCEEDED):
        item["EndTime"] = now
    return [*closed, item]


def set_secondary(host: JobHost, run: JobRun, status: str, message: str | None = None) -> None:
    host.update(
        run,
        secondary_status=status,
        secondary_status_transitions=transition(run.job, status, message),
    )


class TrainingExecution(Execution):
    def execute(self) -> None:
        """Runs the job to a terminal state; JobFailure texts become FailureReason."""
        job = self.job
        self.clock = Stopwatch()  # billable and training seconds (spot.py)
        self.host.update(self.run, training_start_time=utcnow())
        try:
            check_image(job.algorithm_specification.get("TrainingImage"))
            self._write_container_layout()
            set_secondary(self.host, self.run, "Downloading")
            self._stage_channels()
            if self.run.stop_reason:
                return self._finish_stopped()
            # One run of the container; on spot, again from checkpoints after interruptions.
            attempts = Attempts(self, self.clock, self._set_secondary)
            outcome = attempts.run_container(
                [sys.executable, "-m", "sagemaker_training.cli.train"], self._env()
            )
            if self.run.stop_reason:
                return self._finish_stopped()
            if outcome.returncode != 0:
                raise JobFailure(self._failure_reason(outcome.stderr_path))
            set_secondary(self.host, self.run, "Uploading")
            artifacts = self._upload_artifacts()
            metrics = self._final_metrics([outcome.stdout_path, outcome.stderr_path])
            self._finish(
                "Completed",
                "Completed",
                model_artifacts=artifacts,
                final_metric_data_list=metrics or None,
            )
        except JobFailure as failure:
            self._finish("Failed", "Failed", failure_reason=limit_reason(str(failure)))

    def _set_secondary(self, status: str, message: str | None) -> None:
        set_secondary(self.host, self.run, status, message)

    # -- container layout ------------------------------------------------------------------
    def _write_container_layout(self) -> None:
        job, config = self.job, self.dir / "input" / "config"
        for sub in (
            "input/config",
            "input/data",
            "model",
            "output/data",
            "output/intermediate",
            "code",
        ):
            # output/intermediate existing tells the toolkit the platform owns intermediate sync.
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        hyperparameters = {k: str(v) for k, v in (job.hyper_parameters or {}).items()}
        mode = job.algorithm_specification.get("TrainingInputMode", "File")
        channels = {
            c["ChannelName"]: {
                **({"ContentType": c["ContentType"]} if c.get("ContentType") else {}),
                "TrainingInputMode": c.get("InputMode", mode),
                "S3DistributionType": _s3_source(c).get("S3DataDistributionType")
                or "FullyReplicated",
                "RecordWrapperType": c.get("RecordWrapperType", "None"),
            }
            for c in job.input_data_config or []
        }
        instance_type = (job.resource_config or {}).get("InstanceType", "local")
        resources = {
            "current_host": HOST,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": [HOST],
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": instance_type,
                    "hosts": [HOST],
                }
            ],
            "network_interface_name": "eth0",
        }
        for name, content in (
            ("hyperparameters.json", hyperparameters),
            ("inputdataconfig.json", channels),
            ("resourceconfig.json", resources),
        ):
            (config / name).write_text(json.dumps(content, indent=2), encoding="utf-8")

    def _stage_channels(self) -> None:
        for channel in self.job.input_data_config or []:
            source = _s3_source(channel)
            if not source:
                raise JobFailure(
                    f"ClientError: channel {channel['ChannelName']} has no "
                    "S3DataSource; the twin stages only S3 channels"
                )
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise JobFailure(
                    f"ClientError: S3DataType {source['S3DataType']} is not "
                    "supported by the twin (only S3Prefix)"
                )
            target = self.dir / "input" / "data" / channel["ChannelName"]
            staging.stage_prefix(self.s3, source["S3Uri"], target)

    def _env(self) -> dict[str, str]:
        extra = {
            **(self.run.request.get("Environment") or {}),
            "SAGEMAKER_BASE_DIR": str(self.dir),  # the toolkit's stand-in for /opt/ml
            "S3_ENDPOINT_URL": self.endpoint,  # the toolkit's own S3 endpoint override
            # The toolkit waits until every host in resourceconfig.json resolves; "algo-1" only
            # resolves inside SageMaker, and its Studio-local-mode switch skips that wait.
            "SM_STUDIO_LOCAL_MODE": "true",
            "TRAINING_JOB_NAME": self.job.training_job_name,
            "TRAINING_JOB_ARN": self.job.arn,
        }
        return self.container_env(extra)

    # -- results -----------------------------------------------------------------------------
    def _failure_reason(self, stderr_path: Path) -> str:
        """output/failure if the script wrote it, else 'AlgorithmError: <stderr tail>'.

        The toolkit writes output/failure too, but only when the script did not, and the
        scikit-learn container runs scripts without capturing stderr, so its message carries
        an empty ErrorMessage; the script's own stderr (before the toolkit's report) is better.
        """
        written = read_text(self.dir / "output" / "failure")
        if written and written.strip() and not _TOOLKIT_FAILURE.match(written.strip()):
            return limit_reason(written)
        if written and written.startswith("Framework Error:"):
            return algorithm_error("Framework Error: " + exception_text(written))
        return algorithm_error(log_tail(script_stderr(read_text(stderr_path) or "")))

    def _upload_artifacts(self) -> dict[str, str]:
        output = join_s3_uri(
            self.job.output_data_config["S3OutputPath"], self.job.training_job_name, "output"
        )
        model_tar = staging.tar_directory(self.dir / "model", self.dir / "model.tar.gz")
        staging.upload_file(self.s3, model_tar, join_s3_uri(output, "model.tar.gz"))
        data_dir = self.dir / "output" / "data"
        if staging.has_files(data_dir):
            data_tar = staging.tar_directory(data_dir, self.dir / "output.tar.gz")
            staging.upload_file(self.s3, data_tar, join_s3_uri(output, "output.tar.gz"))
        return {"S3ModelArtifacts": join_s3_uri(output, "model.tar.gz")}

    def _final_metrics(self, logs: list[Path]) -> list[dict[str, Any]]:
        """Last value each MetricDefinitions regex (group 1) matched in the job's output."""
        text = "\n".join(read_text(p) or "" for p in logs)
        metrics = []
        for definition in metric_definitions(self.job, self.run.request):
            values = []
            for match in re.finditer(definition["Regex"], text, flags=re.MULTILINE):
                try:
                    values.append(float(match.group(1)))
                except (IndexError, TypeError, ValueError):
                    continue
            if values:
                metrics.append(
                    {"MetricName": definition["Name"], "Value": values[-1], "Timestamp": utcnow()}
                )
        return metrics

    def _finish_stopped(self) -> None:
        """Stopped keeps whatever the script saved in model/ (SageMaker's SIGTERM contract)."""
        artifacts = None
        if staging.has_files(self.dir / "model"):
            try:
                artifacts = self._upload_artifacts()
            except JobFailure:
                artifacts = None
        reason = self.run.stop_reason or "Stopped"
        self._finish("Stopped", reason, model_artifacts=artifacts)

    def _finish(self, status: str, secondary: str, **attributes: Any) -> None:
        end = utcnow()
        # On spot, capacity waits count in TrainingTimeInSeconds, not in BillableTimeInSeconds.
        training = max(1, round(self.clock.elapsed_aws))
        billable = max(1, min(training, round(self.clock.billable)))
        message = attributes.get("failure_reason")
        self.host.update(
            self.run,
            secondary_status=secondary,
            secondary_status_transitions=transition(self.job, secondary, message),
            training_end_time=end,
            training_time_in_seconds=training,
            billable_time_in_seconds=billable,
            training_job_status=status,
            **attributes,
        )


def script_stderr(toolkit_stderr: str) -> list[str]:
    """The user script's lines in the toolkit's stderr (which the script inherits)."""
    lines = toolkit_stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(_TOOLKIT_INVOKING)]
    if starts:  # skip the marker, blank lines and the command line that follows it
        start = starts[-1] + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        lines = lines[start + 1 :]
    ends = [i for i, line in enumerate(lines) if _TOOLKIT_FAILURE_MARKER in line]
    lines = lines[: ends[-1]] if ends else lines
    return [line for line in lines if not _TOOLKIT_LOG_LINE.match(line)]


def exception_text(traceback_text: str) -> str:
    """What follows the last indented frame line of a Python traceback: the exception."""
    lines = [line for line in traceback_text.splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.startswith(" ")]
    return "\n".join(lines[frames[-1] + 1 :] if frames else lines[-1:])


def _s3_source(channel: dict[str, Any]) -> dict[str, Any]:
    return (channel.get("DataSource") or {}).get("S3DataSource") or {}
