"""A training job's runs of its container: one on demand; on spot, one more after each
interruption, each restored from the job's checkpoints (spot.py says what SageMaker does).

`Attempts.run` returns the last container outcome, with `run.stop_reason` set when the job is
to end Stopped: by StopTrainingJob, MaxRuntimeExceeded (the runs together passed
MaxRuntimeInSeconds) or MaxWaitTimeExceeded (runs and capacity waits passed
MaxWaitTimeInSeconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mlops.twin.sagemaker.jobs.common import (
    MAX_RUNTIME_EXCEEDED,
    Execution,
    ProcessOutcome,
    terminate_group,
)
from mlops.twin.sagemaker.jobs.spot import (
    MAX_WAIT_EXCEEDED,
    CheckpointSync,
    SpotInterruption,
    Stopwatch,
    local_checkpoint_dir,
)

WATCH_INTERVAL_SECONDS = 0.05
SetStatus = Callable[[str, str | None], None]


class Attempts:
    def __init__(self, execution: Execution, clock: Stopwatch, set_status: SetStatus) -> None:
        self.execution, self.run, self.host = execution, execution.run, execution.host
        self.clock, self.set_status = clock, set_status
        job = execution.job
        self.spot = bool(getattr(job, "enable_managed_spot_training", False))
        stopping = job.stopping_condition or {}
        self.max_runtime = stopping.get("MaxRuntimeInSeconds")
        self.max_wait = stopping.get("MaxWaitTimeInSeconds") if self.spot else None
        config = getattr(job, "checkpoint_config", None) or None
        self.sync = None
        if config:
            directory = local_checkpoint_dir(execution.dir, config.get("LocalPath"))
            self.sync = CheckpointSync(execution.s3, config["S3Uri"], directory)

    def run_container(self, command: list[str], env: dict[str, str]) -> ProcessOutcome:
        while True:
            if self.sync is not None:
                self.sync.restore()
                self.sync.start()
            self.set_status("Training", None)
            rule = self.host.spot.take(self.run.name) if self.spot else None
            interrupted = threading.Event()
            done = threading.Event()
            if rule is not None:
                watcher = threading.Thread(
                    target=self._interrupt_when_due,
                    args=(rule, interrupted, done),
                    name="twin-spot-interruption",
                    daemon=True,
                )
                watcher.start()
            timeout, wait_binds = self._timeout()
            try:
                outcome = self.execution.run_container_for(command, env, timeout)
            finally:
                done.set()
                if self.sync is not None:
                    self.sync.stop()
            if self.run.stop_reason == MAX_RUNTIME_EXCEEDED and wait_binds:
                self.run.stop_reason = MAX_WAIT_EXCEEDED
            if not interrupted.is_set() or self.run.stop_reason:
                return outcome
            assert rule is not None
            self.run.interruptions += 1
            self.set_status("Interrupted", "Training job interrupted: spot capacity reclaimed")
            if not self._wait_for_capacity(rule.for_seconds):
                return outcome
            self.set_status("Starting", "Restarting the training job on new spot capacity")

    def _timeout(self) -> tuple[float | None, bool]:
        """(seconds this run may take, whether MaxWaitTimeInSeconds is what limits it)."""
        runtime = None if self.max_runtime is None else self.max_runtime - self.clock.billable
        wait = None if self.max_wait is None else self.max_wait - self.clock.elapsed_aws
        if wait is not None and (runtime is None or wait < runtime):
            return max(wait, 0.001), True
        return (None if runtime is None else max(runtime, 0.001)), False

    def _interrupt_when_due(
        self, rule: SpotInterruption, interrupted: threading.Event, done: threading.Event
    ) -> None:
        started = time.monotonic()
        while not done.wait(WATCH_INTERVAL_SECONDS):
            uploaded = self.sync.uploaded_this_attempt if self.sync is not None else 0
            if not rule.due(time.monotonic() - started, uploaded):
                continue
            process = self.run.process
            if process is None or process.poll() is not None:
                continue  # not started yet, or already done: nothing to interrupt
            interrupted.set()
            terminate_group(process, self.host.stop_grace_seconds)
            return

    def _wait_for_capacity(self, for_seconds: float) -> bool:
        """Waits `for_seconds` of AWS time (scaled) for capacity; False if the job is to stop
        instead: stopped meanwhile, or the wait would pass MaxWaitTimeInSeconds (the job then
        waits until that moment, as SageMaker does)."""
        left = None if self.max_wait is None else self.max_wait - self.clock.elapsed_aws
        aws_seconds = for_seconds if left is None else max(0.0, min(for_seconds, left))
        self.set_status("Pending", "Waiting for spot capacity")
        started = time.monotonic()
        deadline = started + aws_seconds * self.host.time_scale
        while time.monotonic() < deadline and not self.run.stop_reason:
            time.sleep(min(WATCH_INTERVAL_SECONDS, max(0.0, deadline - time.monotonic())))
        real = time.monotonic() - started
        scale = self.host.time_scale
        self.clock.waited(aws_seconds if scale <= 0 else min(aws_seconds, real / scale), real)
        if self.run.stop_reason:
            return False
        if left is not None and for_seconds >= left:
            self.run.stop_reason = MAX_WAIT_EXCEEDED
            return False
        return True
