"""Pieces shared by the twin's training and processing job executions.

A job run is one moto job object plus what the twin needs to drive it: the stop request, the
live subprocess (so `JobRunner.stop` can kill it) and the time spent inside the container.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops.twin.aws.arns import Arn

# Only the SageMaker scikit-learn framework images are runnable: the twin emulates that
# container (sagemaker-training toolkit + this venv's scikit-learn), nothing else.
SUPPORTED_IMAGE_REPOSITORY = "sagemaker-scikit-learn"
REASON_LIMIT = 1024  # FailureReason / ExitMessage are at most 1 KB in the SageMaker API
STOP_REQUESTED = "Stopped"
MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
_TAIL_LINES = 15


class JobFailure(Exception):
    """A platform-side failure (bad image, missing input...) with SageMaker's reason text."""


@dataclass
class JobRun:
    """Twin-side state of one job; the moto object itself only carries API-visible fields."""

    name: str
    kind: str  # "training" | "processing"
    job: Any
    job_dir: Path
    request: Mapping[str, Any]
    stop_reason: str | None = None  # STOP_REQUESTED | MAX_RUNTIME_EXCEEDED
    process: subprocess.Popen[bytes] | None = None
    script_seconds: float | None = None
    interruptions: int = 0  # spot interruptions the job ran through (attempts.py)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int | None  # None when the twin stopped the process
    stdout_path: Path
    stderr_path: Path


class JobHost(Protocol):
    """What an execution needs from the runner (implemented by JobRunner)."""

    stop_grace_seconds: float
    time_scale: float  # real seconds per AWS second (capacity waits of spot jobs)
    spot: Any  # the armed spot interruptions (spot.SpotMarket)

    def update(self, run: JobRun, **attributes: Any) -> None: ...

    def register_process(self, run: JobRun, process: subprocess.Popen[bytes] | None) -> bool: ...


def image_repository(image_uri: str) -> str:
    """'<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>' (or @sha256:...) -> '<repo>'."""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    return re.split(r"[:@]", path, maxsplit=1)[0]


def check_image(image_uri: str | None) -> None:
    if not image_uri or image_repository(image_uri) != SUPPORTED_IMAGE_REPOSITORY:
        raise JobFailure(
            f"ClientError: the twin runs only {SUPPORTED_IMAGE_REPOSITORY} images; "
            f"got {image_uri or 'no image'}"
        )


def limit_reason(text: str, keep_end: bool = False) -> str:
    """Fit a reason into SageMaker's 1 KB; keep the end for log tails (the exception line)."""
    text = text.strip()
    if len(text) <= REASON_LIMIT:
        return text
    return "..." + text[-(REASON_LIMIT - 3) :] if keep_end else text[:REASON_LIMIT]


def log_tail(lines: Sequence[str], count: int = _TAIL_LINES) -> str:
    kept = [line.rstrip() for line in lines if line.strip()]
    return "\n".join(kept[-count:])


def algorithm_error(tail: str, prefix: str = "AlgorithmError: ") -> str:
    tail = tail or "the container exited with an error and wrote no output"
    budget = REASON_LIMIT - len(prefix)
    if len(tail) > budget:
        tail = "..." + tail[-(budget - 3) :]
    return prefix + tail


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None


def run_container_process(
    host: JobHost,
    run: JobRun,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    max_runtime_seconds: float | None,
) -> ProcessOutcome:
    """Run the 'container' command; honour MaxRuntimeInSeconds and JobRunner.stop."""
    log_dir = run.job_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / "stdout.log", log_dir / "stderr.log"
    # Appended: a spot job's later attempts add to its log, as to its CloudWatch log stream.
    with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
        # Own session = own process group, so a stop also kills the script the toolkit spawned.
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        started = time.monotonic()
        if not host.register_process(run, process):  # stop() came first
            terminate_group(process, host.stop_grace_seconds)
        try:
            process.wait(timeout=max_runtime_seconds)
        except subprocess.TimeoutExpired:
            if run.stop_reason is None:
                run.stop_reason = MAX_RUNTIME_EXCEEDED
            terminate_group(process, host.stop_grace_seconds)
        run.script_seconds = time.monotonic() - started
        host.register_process(run, None)
    returncode = None if run.stop_reason else process.returncode
    return ProcessOutcome(returncode, stdout_path, stderr_path)


def terminate_group(process: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """SIGTERM then, after the grace period, SIGKILL the whole process group.

    SageMaker gives the algorithm a grace period after SIGTERM to save its model; the twin keeps
    that behaviour with a shorter, configurable grace.
    """
    if process.poll() is not None:
        return
    for sig, wait_seconds in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_seconds)
            return
        except subprocess.TimeoutExpired:
            continue


def container_env(
    base_env: Mapping[str, str],
    endpoint_url: str,
    region: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment of a job subprocess: only the twin's loopback endpoint, dummy credentials."""
    env = {k: v for k, v in base_env.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL_")]:
        del env[key]  # per-service endpoints would bypass the twin's single endpoint
    env.update(  # last, so no job Environment can point a job away from loopback
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        NO_PROXY="127.0.0.1,localhost,::1",
        no_proxy="127.0.0.1,localhost,::1",
        PYTHONUNBUFFERED="1",
        # The toolkit pip-installs a source dir's requirements.txt: keep pip off the network.
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


class Execution:
    """One run of a job: what the SageMaker platform does around the container (staging,
    status, uploads), given the runner (`host`), the run, an S3 client and the twin's endpoint."""

    def __init__(self, host: JobHost, run: JobRun, s3: Any, env: dict[str, str], endpoint: str):
        self.host, self.run, self.s3, self.job = host, run, s3, run.job
        self.base_env, self.endpoint = env, endpoint
        self.dir = run.job_dir

    def execute(self) -> None:
        """Run the job to a terminal state (subclasses)."""
        raise NotImplementedError

    def container_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        region = Arn.parse(str(self.job.arn)).region  # moto's job records carry their ARN
        return container_env(self.base_env, self.endpoint, region, extra)

    def run_container(self, command: list[str], env: dict[str, str]) -> ProcessOutcome:
        max_runtime = (self.job.stopping_condition or {}).get("MaxRuntimeInSeconds")
        return self.run_container_for(command, env, max_runtime)

    def run_container_for(
        self, command: list[str], env: dict[str, str], timeout: float | None
    ) -> ProcessOutcome:
        """Runs the container at most `timeout` seconds (then MaxRuntimeExceeded)."""
        return run_container_process(self.host, self.run, command, env, self.dir, timeout)


def notify_safely(callback: Callable[[str, Any], None] | None, kind: str, job: Any) -> None:
    if callback is None:
        return
    try:
        callback(kind, job)
    except Exception:  # noqa: BLE001 - a broken listener must not kill the job thread
        logging.getLogger(__name__).exception("on_state_change failed for %s", kind)
