"""The twin's SageMaker training/processing job seam.

moto records CreateTrainingJob/CreateProcessingJob and marks them Completed at once. The gateway
lets moto create the record and hands the moto job object to `JobRunner`, which resets it to
InProgress and runs the job for real in the background (training.py / processing.py), at most
`max_parallel` at a time, updating the moto object as SageMaker would update the job.

moto internals touched (FakeTrainingJob / FakeProcessingJob instance attributes; moto's
BaseObject.gen_response_object camel-cases every instance attribute into Describe*):
  training: training_job_name, arn, hyper_parameters, algorithm_specification, input_data_config,
    output_data_config, resource_config, stopping_condition, training_job_status,
    secondary_status, secondary_status_transitions, model_artifacts, final_metric_data_list,
    training_start_time, training_end_time, last_modified_time, enable_managed_spot_training,
    checkpoint_config (read by attempts.py); added: failure_reason,
    training_time_in_seconds, billable_time_in_seconds, environment.
  processing: processing_job_name, arn, app_specification, processing_inputs,
    processing_output_config, stopping_condition, processing_job_status, processing_end_time,
    last_modified_time; added: processing_start_time, failure_reason, exit_message, environment.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from moto.core.utils import utcnow

from mlops.twin.sagemaker.jobs.common import STOP_REQUESTED, JobRun, notify_safely, terminate_group
from mlops.twin.sagemaker.jobs.processing import ProcessingExecution
from mlops.twin.sagemaker.jobs.spot import SpotInterruption, SpotMarket
from mlops.twin.sagemaker.jobs.training import TrainingExecution, metric_definitions, transition
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_STATUS_ATTRIBUTE = {"training": "training_job_status", "processing": "processing_job_status"}
# Every attribute the runner may set later is created up front (as None, which Describe* omits):
# moto serialises by iterating job.__dict__ from server threads, and adding a key during that
# iteration would raise "dictionary changed size during iteration".
_TRAINING_RESET = dict.fromkeys(
    (
        "failure_reason",
        "model_artifacts",
        "final_metric_data_list",
        "training_start_time",
        "training_end_time",
        "training_time_in_seconds",
        "billable_time_in_seconds",
        "environment",
    ),
)
_PROCESSING_RESET = dict.fromkeys(
    (
        "failure_reason",
        "exit_message",
        "processing_start_time",
        "processing_end_time",
        "environment",
    ),
)


class JobRunner(Seam):
    def __init__(
        self,
        s3_client_factory: Callable[[], Any],
        work_root: Path,
        endpoint_url: str,
        base_env: dict[str, str],
        on_state_change: Callable[[str, Any], None] | None = None,
        max_parallel: int = 2,
        stop_grace_seconds: float = 10.0,
        time_scale: float = 1.0,
    ) -> None:
        if urlparse(endpoint_url).hostname not in _LOOPBACK_HOSTS:
            raise ValueError(f"job subprocesses may only reach loopback, got {endpoint_url}")
        self._s3_client_factory = s3_client_factory
        self._work_root = Path(work_root)
        self._endpoint_url = endpoint_url
        self._base_env = dict(base_env)
        self._on_state_change = on_state_change
        self.stop_grace_seconds = stop_grace_seconds
        self.time_scale = time_scale  # real seconds per AWS second: spot capacity waits
        self.spot = SpotMarket()
        self._lock = threading.RLock()
        self._notify_lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._runs: dict[tuple[str, str], JobRun] = {}
        self._pending = 0
        self._closed = False
        self._executor = ThreadPoolExecutor(max_parallel, thread_name_prefix="twin-sagemaker-job")

    # -- API -------------------------------------------------------------------------------------
    def start_training(self, job: Any, request: Mapping[str, Any] | None = None) -> None:
        """Queue a moto FakeTrainingJob; it is InProgress/Starting when this returns.

        `request` is the original CreateTrainingJob body, if the caller has it: moto drops the
        request's Environment and overwrites AlgorithmSpecification.MetricDefinitions.
        """
        request = dict(request or {})
        spec = dict(job.algorithm_specification or {})
        spec.pop("MetricDefinitions", None)
        if definitions := metric_definitions(job, request):
            spec["MetricDefinitions"] = definitions
        job.__dict__.update(_TRAINING_RESET)
        job.algorithm_specification = spec
        job.secondary_status_transitions = []
        job.environment = dict(request.get("Environment") or {}) or None
        run = JobRun(
            job.training_job_name, "training", job, self._work_root / job.training_job_name, request
        )
        self._submit(
            run,
            secondary_status="Starting",
            secondary_status_transitions=transition(job, "Starting"),
            training_job_status="InProgress",
        )

    def start_processing(self, job: Any, request: Mapping[str, Any] | None = None) -> None:
        """Queue a moto FakeProcessingJob; it is InProgress when this returns."""
        request = dict(request or {})
        job.__dict__.update(_PROCESSING_RESET)
        job.environment = dict(request.get("Environment") or {}) or None
        # '.' cannot occur in job names, so this never collides with a training job's directory.
        job_dir = self._work_root / f"processing.{job.processing_job_name}"
        run = JobRun(job.processing_job_name, "processing", job, job_dir, request)
        self._submit(run, processing_job_status="InProgress")

    def stop(self, name: str) -> None:
        """StopTrainingJob / StopProcessingJob: Stopping now, Stopped when the process is gone."""
        with self._notify_lock:
            with self._lock:
                runs = [
                    r
                    for r in self._runs.values()
                    if r.name == name
                    and not r.done.is_set()
                    and r.stop_reason is None
                    and getattr(r.job, _STATUS_ATTRIBUTE[r.kind]) == "InProgress"
                ]
                for run in runs:
                    run.stop_reason = STOP_REQUESTED
                    self._apply(run, _stopping_attributes(run))
                processes = [run.process for run in runs]
            for run in runs:
                notify_safely(self._on_state_change, run.kind, run.job)
        for process in processes:
            if process is not None:
                terminate_group(process, self.stop_grace_seconds)

    def interrupt_spot(
        self,
        pattern: str,
        *,
        after_checkpoints: int | None = None,
        after_seconds: float | None = None,
        for_seconds: float = 300.0,
        times: int = 1,
    ) -> SpotInterruption:
        """Test knob: interrupt the next `times` runs of spot training jobs named like
        `pattern` (fnmatch) once they uploaded `after_checkpoints` checkpoint files or ran
        `after_seconds`; each then waits `for_seconds` of AWS time for capacity (spot.py)."""
        rule = SpotInterruption(pattern, after_seconds, after_checkpoints, for_seconds, times)
        return self.spot.arm(rule)

    def wait_idle(self, timeout: float) -> bool:
        """True once no job is queued or running (False if `timeout` seconds pass first)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def timings(self) -> list[dict[str, Any]]:
        """Per job: name, kind, seconds in the (last) container process (None if never run),
        spot interruptions, status."""
        with self._lock:
            return [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "seconds": r.script_seconds,
                    "interruptions": r.interruptions,
                    "status": getattr(r.job, _STATUS_ATTRIBUTE[r.kind]),
                }
                for r in self._runs.values()
            ]

    def install(self) -> None:
        """Nothing to start: a job starts when moto has recorded its Create*Job."""

    def uninstall(self) -> None:
        """Stop every queued/running job and join the worker threads."""
        with self._lock:
            self._closed = True
            names = {r.name for r in self._runs.values() if not r.done.is_set()}
        for name in names:
            self.stop(name)
        self._executor.shutdown(wait=True, cancel_futures=False)

    # -- JobHost (used by the executions) -------------------------------------------------------
    def update(self, run: JobRun, **attributes: Any) -> None:
        """Set Describe*-visible attributes atomically; notify if the primary status changed."""
        # One notifier at a time, in the order the changes were applied.
        with self._notify_lock:
            with self._lock:
                changed = self._apply(run, attributes)
            if changed:
                notify_safely(self._on_state_change, run.kind, run.job)

    def register_process(self, run: JobRun, process: subprocess.Popen[bytes] | None) -> bool:
        """Record the live process; False if a stop already came (the caller kills it)."""
        with self._lock:
            run.process = process
            return run.stop_reason is None

    # -- internals -------------------------------------------------------------------------------
    def _submit(self, run: JobRun, **initial_state: Any) -> None:
        with self._notify_lock:
            with self._lock:
                if self._closed:
                    raise RuntimeError("JobRunner is shut down")
                previous = self._runs.get((run.kind, run.name))
                if previous is not None and not previous.done.is_set():
                    raise RuntimeError(f"{run.kind} job {run.name} is already running")
                self._runs[(run.kind, run.name)] = run
                self._pending += 1
                # Set synchronously, before the job thread exists: the caller sees InProgress.
                self._apply(run, initial_state)
            notify_safely(self._on_state_change, run.kind, run.job)
        self._executor.submit(self._execute, run)

    def _apply(self, run: JobRun, attributes: Mapping[str, Any]) -> bool:
        """Set attributes on the moto job (caller holds the lock); True if the status changed."""
        status_attribute = _STATUS_ATTRIBUTE[run.kind]
        before = getattr(run.job, status_attribute, None)
        for name, value in attributes.items():
            setattr(run.job, name, value)
        run.job.last_modified_time = utcnow()
        return getattr(run.job, status_attribute) != before

    def _execute(self, run: JobRun) -> None:
        try:
            if run.stop_reason:  # stopped (or runner shut down) while queued
                self._finish_unstarted(run)
                return
            if run.job_dir.exists():
                shutil.rmtree(run.job_dir)
            run.job_dir.mkdir(parents=True)
            execution_class = TrainingExecution if run.kind == "training" else ProcessingExecution
            execution_class(
                self, run, self._s3_client_factory(), self._base_env, self._endpoint_url
            ).execute()
        except Exception as error:  # noqa: BLE001 - any twin bug must still end the job
            log.exception("twin %s job %s crashed", run.kind, run.name)
            self._fail_internal(run, error)
        finally:
            with self._idle:
                run.done.set()
                self._pending -= 1
                self._idle.notify_all()

    def _finish_unstarted(self, run: JobRun) -> None:
        if run.kind == "training":
            self.update(
                run,
                secondary_status="Stopped",
                secondary_status_transitions=transition(run.job, "Stopped"),
                training_end_time=utcnow(),
                training_job_status="Stopped",
            )
        else:
            self.update(run, processing_end_time=utcnow(), processing_job_status="Stopped")

    def _fail_internal(self, run: JobRun, error: Exception) -> None:
        reason = f"InternalServerError: the twin failed to run the job: {error}"[:1024]
        if run.kind == "training":
            self.update(
                run,
                secondary_status="Failed",
                failure_reason=reason,
                secondary_status_transitions=transition(run.job, "Failed", reason),
                training_end_time=utcnow(),
                training_job_status="Failed",
            )
        else:
            self.update(
                run,
                failure_reason=reason,
                processing_end_time=utcnow(),
                processing_job_status="Failed",
            )


def _stopping_attributes(run: JobRun) -> dict[str, Any]:
    if run.kind == "processing":
        return {"processing_job_status": "Stopping"}
    return {
        "secondary_status": "Stopping",
        "secondary_status_transitions": transition(run.job, "Stopping"),
        "training_job_status": "Stopping",
    }
