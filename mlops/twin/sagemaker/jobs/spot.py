"""Managed spot training in the twin: checkpoint sync and spot interruptions (a test knob).

What SageMaker does ("Managed Spot Training in Amazon SageMaker AI" and "Checkpoints in Amazon
SageMaker AI", SageMaker developer guide; DescribeTrainingJob in the API reference):
- With a CheckpointConfig, the files the algorithm writes to LocalPath (default
  /opt/ml/checkpoints) are copied to S3Uri while the job runs; when the job starts again after
  a spot interruption, S3Uri is copied back into LocalPath before the script runs.
- An interrupted spot job goes `Interrupted`, waits for capacity and starts again. If the wait
  and the runs together pass StoppingCondition.MaxWaitTimeInSeconds, the job ends `Stopped`
  with the secondary status `MaxWaitTimeExceeded`.
- TrainingTimeInSeconds covers the whole job, BillableTimeInSeconds what was billed; the saving
  is (1 - billable / training) * 100.

The twin: `JobRunner.interrupt_spot(pattern, ...)` arms an interruption for spot jobs whose name
matches the pattern (fnmatch): once the job's attempt has run `after_seconds` (real seconds) or
its sync has uploaded `after_checkpoints` checkpoint files, the container's process group is
killed, the job waits `for_seconds` of AWS time for capacity (for_seconds * time_scale real
seconds, like the twin's other waits) and runs again from its checkpoints. The twin bills the
time the job was not waiting for capacity: BillableTimeInSeconds is the real time outside those
waits, TrainingTimeInSeconds adds the waits in AWS seconds.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlops.twin.aws.s3_uri import join_s3_uri
from mlops.twin.sagemaker.jobs import staging
from mlops.twin.sagemaker.jobs.common import JobFailure

CONTAINER_BASE = PurePosixPath("/opt/ml")
DEFAULT_LOCAL_PATH = "/opt/ml/checkpoints"
SYNC_INTERVAL_SECONDS = 0.1
MAX_WAIT_EXCEEDED = "MaxWaitTimeExceeded"


@dataclass
class SpotInterruption:
    """One armed interruption rule (JobRunner.interrupt_spot); `fired` counts its uses."""

    pattern: str
    after_seconds: float | None = None
    after_checkpoints: int | None = None
    for_seconds: float = 300.0
    times: int = 1
    fired: list[str] = field(default_factory=list)  # the job names it interrupted

    def matches(self, job_name: str) -> bool:
        return len(self.fired) < self.times and fnmatch.fnmatchcase(job_name, self.pattern)

    def due(self, running_seconds: float, uploaded: int) -> bool:
        if self.after_seconds is not None and running_seconds >= self.after_seconds:
            return True
        return self.after_checkpoints is not None and uploaded >= self.after_checkpoints


class SpotMarket:
    """The armed interruptions; an attempt of a spot job takes the first rule that matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[SpotInterruption] = []

    def arm(self, rule: SpotInterruption) -> SpotInterruption:
        if rule.after_seconds is None and rule.after_checkpoints is None:
            raise ValueError("say when: after_seconds or after_checkpoints")
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, job_name: str) -> SpotInterruption | None:
        """The rule that will interrupt this attempt (counted as fired), if any."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(job_name):
                    rule.fired.append(job_name)
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


def local_checkpoint_dir(job_dir: Path, local_path: str | None) -> Path:
    """CheckpointConfig.LocalPath inside the job directory, which stands for /opt/ml."""
    container_path = PurePosixPath(local_path or DEFAULT_LOCAL_PATH)
    if not container_path.is_relative_to(CONTAINER_BASE) or ".." in container_path.parts:
        raise JobFailure(
            f"ClientError: CheckpointConfig.LocalPath {local_path} is outside /opt/ml; the twin "
            "maps only paths under /opt/ml into a job"
        )
    return job_dir / container_path.relative_to(CONTAINER_BASE)


class CheckpointSync:
    """Copies the local checkpoint directory to S3 while a job runs; restores it on restart."""

    def __init__(self, s3: Any, s3_uri: str, directory: Path) -> None:
        self.s3, self.s3_uri, self.directory = s3, s3_uri, directory
        self._sent: dict[str, tuple[float, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.uploaded_this_attempt = 0  # checkpoint files (not hidden temporaries) sent

    def restore(self) -> list[Path]:
        """S3Uri into LocalPath (nothing there yet is fine: a first attempt)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            restored = staging.stage_prefix(self.s3, self.s3_uri, self.directory)
        except JobFailure as failure:
            if "No S3 objects found" in str(failure):
                return []
            raise
        for path in restored:  # what came from S3 is already there
            self._sent[path.relative_to(self.directory).as_posix()] = _signature(path)
        return restored

    def start(self) -> None:
        self.uploaded_this_attempt = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="twin-checkpoint-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the loop and sends what is left (the last checkpoint before an interruption)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sync()

    def sync(self) -> None:
        for path in sorted(self.directory.rglob("*")):
            name = path.relative_to(self.directory).as_posix()
            try:
                if not path.is_file() or self._sent.get(name) == _signature(path):
                    continue
                signature = _signature(path)
                staging.upload_file(self.s3, path, join_s3_uri(self.s3_uri, name))
            except (FileNotFoundError, JobFailure):
                continue  # replaced or removed while it was read: the next pass sees it
            self._sent[name] = signature
            if not path.name.startswith("."):
                self.uploaded_this_attempt += 1

    def _loop(self) -> None:
        while not self._stop.wait(SYNC_INTERVAL_SECONDS):
            self.sync()


def _signature(path: Path) -> tuple[float, int]:
    stat = path.stat()
    return stat.st_mtime, stat.st_size


class Stopwatch:
    """A job's time on both clocks: real seconds outside capacity waits, and the waits."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.waited_real = 0.0
        self.waited_aws = 0.0

    @property
    def billable(self) -> float:
        return time.monotonic() - self.started - self.waited_real

    @property
    def elapsed_aws(self) -> float:
        return self.billable + self.waited_aws

    def waited(self, aws_seconds: float, real_seconds: float) -> None:
        self.waited_aws += aws_seconds
        self.waited_real += real_seconds
