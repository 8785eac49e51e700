"""How the twin's Scheduler delivers one invocation (runner.py decides when): the target is
called; a failure is retried or sent to the dead-letter queue as the schedule's RetryPolicy and
DeadLetterConfig say (the rules are in runner.py's docstring); every invocation ends in a
record."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from mlops.twin.aws.arns import Arn
from mlops.twin.events.failures import DeliveryError, classify
from mlops.twin.scheduler.targets import Invocation, TargetRefused, call_target

log = logging.getLogger(__name__)
RETRY_BASE_S, RETRY_CAP_S = 0.2, 6.4


@dataclass
class Job:
    schedule: Any
    invocation: Invocation
    version: float  # of the schedule when it fired
    started: float = field(default_factory=time.monotonic)


Done = Callable[[Job, str, "str | None"], None]  # (job, outcome, error code)


class Delivery:
    def __init__(self, client: Callable[[str], Any], time_scale: float, done: Done) -> None:
        self._client, self.time_scale, self._done = client, time_scale, done
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="twin-scheduler")

    def close(self) -> None:
        """Drop retries still waiting, wait for the calls under way."""
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, job: Job) -> None:
        try:
            self._pool.submit(self._attempt, job)
        except RuntimeError:  # closed
            self._done(job, "dropped", None)

    def _attempt(self, job: Job) -> None:
        try:
            call_target(job.schedule.target, job.invocation, self._client)
        except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
            self._failed(job, exc)
        else:
            self._done(job, "delivered", None)

    def _failed(self, job: Job, exc: Exception) -> None:
        error = _classify(exc)
        policy = job.schedule.target.get("RetryPolicy") or {}
        retries = int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
        attempt = job.invocation.attempt
        delay = min(RETRY_BASE_S * 2 ** (attempt - 1), RETRY_CAP_S)
        age = (time.monotonic() - job.started + delay) / self.time_scale
        if not error.retryable or attempt - 1 >= retries or age > max_age:
            self._dead_letter(job, error, exc)
            return
        retry = Job(job.schedule, _next_attempt(job.invocation), job.version, job.started)
        timer = threading.Timer(delay, self._retry, args=(retry,))
        timer.daemon = True
        with self._lock:
            if self._closed:
                self._done(job, "dropped", error.code)
                return
            self._timers.add(timer)
        timer.start()

    def _retry(self, job: Job) -> None:
        with self._lock:
            self._timers.discard(threading.current_thread())  # type: ignore[arg-type]
        self.submit(job)

    def _dead_letter(self, job: Job, error: DeliveryError, exc: Exception) -> None:
        dlq = (job.schedule.target.get("DeadLetterConfig") or {}).get("Arn")
        code = _error_code(exc, error)
        if not dlq:
            self._done(job, "dropped", code)
            return
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": error.message[:1000],
            "EXECUTION_ID": job.invocation.execution_id,
            "RETRY_ATTEMPTS": str(job.invocation.attempt - 1),
            "SCHEDULE_ARN": job.schedule.arn,
            "TARGET_ARN": job.schedule.target["Arn"],
        }
        queue = Arn.parse(dlq)
        try:
            sqs = self._client("sqs")
            url = sqs.get_queue_url(QueueName=queue.resource, QueueOwnerAWSAccountId=queue.account)
            sqs.send_message(
                QueueUrl=url["QueueUrl"],
                MessageBody=job.invocation.render(job.schedule.target.get("Input") or "{}"),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )
        except Exception:  # noqa: BLE001 - the DLQ itself failed
            log.exception("schedule %s: dead-letter queue %s failed", job.schedule.arn, dlq)
            self._done(job, "dlq_failed", code)
            return
        self._done(job, "sent_to_dlq", code)


def _next_attempt(invocation: Invocation) -> Invocation:
    return Invocation(
        invocation.schedule_arn,
        invocation.scheduled_time,
        invocation.execution_id,
        invocation.attempt + 1,
    )


def _classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, TargetRefused):
        return DeliveryError(exc.code, exc.message, False)
    return classify(exc)


def _error_code(exc: Exception, error: DeliveryError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or error.code)
    return exc.code if isinstance(exc, TargetRefused) else error.code
