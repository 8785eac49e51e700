"""EventBridge target delivery for the twin, patched into moto 5.2.5's Rule.send_to_targets.

moto delivers only to SQS, CloudWatch Logs, archives, API destinations and other buses (dropping
`resources`, `time`, `id` on the way); Step Functions and Lambda targets raise NotImplementedError,
and Input, InputPath, RetryPolicy and DeadLetterConfig are ignored. This seam keeps moto for
archives, logs, API destinations and plain SQS targets, and delivers everything else itself, on a
thread pool, the way the EventBridge user guide describes (pages cited where they apply):
  eb-targets, eb-transform-target-input, eb-rule-dlq, eb-archive / eb-replay-archived-event.

Time compression: retries wait retry_base_delay_s, doubling each time (capped at 32x), in real
seconds; event age, for MaximumEventAgeInSeconds, counts `time_compression` AWS seconds per real
second (default 300: 60 s = 0.2 s real, the 86400 s default = 288 s real).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time as _time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.events import models as events_models

from mlops.twin.aws.arns import Arn
from mlops.twin.events.failures import SHUT_DOWN, DeliveryError, classify
from mlops.twin.events.input import INPUT_KEYS, envelope, target_input
from mlops.twin.seam import Patch, Seam

log = logging.getLogger(__name__)


class _TargetsView:
    """The rule with only the targets moto handles, for moto's own loop. Not a copy: a copied
    moto BaseModel would be registered in moto's instance tracker on every event."""

    def __init__(self, rule: Any, targets: list[dict[str, Any]]) -> None:
        self._rule, self.targets = rule, targets

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)


@dataclass
class _Job:
    rule_arn: str
    rule_name: str
    target: dict[str, Any]
    event: dict[str, Any]
    started: float = field(default_factory=_time.monotonic)
    attempts: int = 0


class EventDelivery(Seam):
    """Delivers matched events to Step Functions, Lambda, event-bus and transformed SQS targets."""

    _active: EventDelivery | None = None  # the installed one: two would deliver every event twice

    def __init__(
        self,
        client_factory: Callable[[str], Any],
        max_workers: int = 4,
        retry_base_delay_s: float = 0.2,
        time_compression: float = 300.0,
    ) -> None:
        self._client_factory = client_factory
        self._clients: dict[str, Any] = {}
        self._base_delay = retry_base_delay_s
        self._compression = time_compression
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="twin-events")
        self._lock = threading.Condition()
        self._pending = 0
        self._timers: set[threading.Timer] = set()
        self._records: list[dict[str, Any]] = []
        self._original: Callable[..., None] | None = None
        self._patch: Patch | None = None
        self._closed = False

    # -- seam ---------------------------------------------------------------------------------
    def install(self) -> None:
        """Route moto's Rule.send_to_targets through this delivery (one at a time)."""
        if EventDelivery._active is self:
            return
        if EventDelivery._active is not None:
            raise RuntimeError("another EventDelivery is installed; uninstall it first")
        self._original = events_models.Rule.send_to_targets
        delivery = self

        def send_to_targets(
            rule: Any, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            delivery._route(rule, original_event, transform_input)

        self._patch = Patch(events_models.Rule, "send_to_targets", send_to_targets)
        self._patch.apply()
        EventDelivery._active = self

    def uninstall(self) -> None:
        """Give moto its send_to_targets back, drop retries still waiting, and wait for the
        deliveries in flight."""
        if EventDelivery._active is self:
            assert self._patch is not None
            self._patch.restore()
            EventDelivery._active = None
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
            timer.join()
            self._finish(timer.args[0], "dropped", SHUT_DOWN, None)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wait_idle(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._records]

    # -- routing ----------------------------------------------------------------------------
    def _route(self, rule: Any, event: dict[str, Any], transform_input: bool) -> None:
        # Disabled rules match nothing (API DisableRule); moto 5.2.5 does not check the state.
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
            return
        targets = list(rule.targets)
        moto_targets = [t for t in targets if self._moto_handles(t)]
        if moto_targets and self._original is not None:
            self._original(_TargetsView(rule, moto_targets), event, transform_input)
        for target in targets:
            if not self._moto_handles(target):
                self._enqueue(_Job(rule.arn, rule.name, target, copy.deepcopy(event)))

    @staticmethod
    def _moto_handles(target: dict[str, Any]) -> bool:
        arn = Arn.parse(target["Arn"])
        service, rtype = arn.service, arn.resource_type
        if service == "events":  # archive ("arn:aws:events:<region>:::") and API destinations
            return rtype in ("", "api-destination")
        if service == "sqs":  # moto ignores Input/InputPath and mis-renders templates
            return not any(target.get(key) is not None for key in INPUT_KEYS)
        return service == "logs"

    def _enqueue(self, job: _Job, delay: float = 0.0) -> None:
        with self._lock:
            if delay == 0.0:
                self._pending += 1
            closed = self._closed
            if delay and not closed:
                timer = threading.Timer(delay, self._submit_later, args=(job,))
                timer.daemon = True
                self._timers.add(timer)
                timer.start()
                return
        if not closed:
            self._submit(job)
        else:
            self._finish(job, "dropped", SHUT_DOWN, None)

    def _submit(self, job: _Job) -> None:
        try:
            self._pool.submit(self._attempt, job)
        except RuntimeError:  # the pool shut down between the check and the submit
            self._finish(job, "dropped", SHUT_DOWN, None)

    def _submit_later(self, job: _Job) -> None:
        with self._lock:  # a Timer runs its callback on itself; shutdown may have taken it
            timer = threading.current_thread()
            if timer not in self._timers:
                return
            self._timers.discard(timer)  # type: ignore[arg-type]
        self._submit(job)

    # -- delivery ---------------------------------------------------------------------------
    def _attempt(self, job: _Job) -> None:
        job.attempts += 1
        try:
            self._deliver(job)
        except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
            self._after_failure(job, classify(exc))
        else:
            self._finish(job, "delivered", None, None)

    def _deliver(self, job: _Job) -> None:
        arn = job.target["Arn"]
        parsed = Arn.parse(arn)
        service, rtype = parsed.service, parsed.resource_type
        if service == "events" and rtype == "event-bus":
            self._forward(job.event, parsed.account, parsed.region, parsed.resource_name)
            return
        text = target_input(job.target, job.event, job.rule_arn, job.rule_name)
        if service == "states" and rtype == "stateMachine":
            # The Target API has no execution name, so none is passed (API Target).
            self._client("stepfunctions").start_execution(stateMachineArn=arn, input=text)
        elif service == "lambda":
            self._client("lambda").invoke(
                FunctionName=arn, InvocationType="Event", Payload=text.encode()
            )
        elif service == "sqs":
            params = {"QueueUrl": self._queue_url(arn), "MessageBody": text}
            group_id = (job.target.get("SqsParameters") or {}).get("MessageGroupId")
            if group_id:
                params["MessageGroupId"] = group_id
            self._client("sqs").send_message(**params)
        else:
            raise DeliveryError(
                "INVALID_PARAMETER", f"target type not supported by twin: {arn}", False
            )

    @staticmethod
    def _forward(event: dict[str, Any], account: str, region: str, bus_name: str) -> None:
        """Put the same event on another bus: id, source, detail-type, detail, resources, time,
        account, region and replay-name kept (moto re-puts only source/detail-type/detail).
        Dispatches to the bus's rules the way moto's EventsBackend.put_events does, since
        put_events would mint a new id and cannot carry replay-name. Keeping the id is inferred."""
        bus = events_models.events_backends[account][region].event_buses.get(bus_name)
        if bus is None:
            raise DeliveryError("NO_RESOURCE", f"event bus {bus_name} does not exist", False)
        for rule in list(bus.rules.values()):
            forwarded = copy.deepcopy(event)
            forwarded["ingestion-time"] = _time.time()
            rule.send_to_targets(forwarded)

    def _after_failure(self, job: _Job, error: DeliveryError) -> None:
        policy = job.target.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
        if not error.retryable:
            self._dead_letter(job, error, None)
            return
        if job.attempts - 1 >= max_retries:
            self._dead_letter(job, error, "MaximumRetryAttempts")
            return
        delay = min(self._base_delay * 2 ** (job.attempts - 1), self._base_delay * 32)
        next_age = (_time.monotonic() - job.started + delay) * self._compression
        if next_age > max_age:
            self._dead_letter(job, error, "MaximumEventAgeInSeconds")
            return
        self._enqueue(job, delay)

    def _dead_letter(self, job: _Job, error: DeliveryError, exhausted: str | None) -> None:
        """Send to the DLQ with the attributes eb-rule-dlq lists, or drop the event."""
        dlq_arn = (job.target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq_arn:
            self._finish(job, "dropped", error, exhausted)
            return
        attributes = {
            "RULE_ARN": job.rule_arn,
            "TARGET_ARN": job.target["Arn"],
            "ERROR_CODE": error.code,
            "ERROR_MESSAGE": error.message[:1000],
            "RETRY_ATTEMPTS": str(job.attempts - 1),
        }
        if exhausted:  # only set when retries ran out (inferred: not for non-retried errors)
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            self._client("sqs").send_message(
                QueueUrl=self._queue_url(dlq_arn),
                MessageBody=json.dumps(envelope(job.event)),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )
        except Exception as exc:  # noqa: BLE001 - InvocationsFailedToBeSentToDLQ
            self._finish(job, "dlq_failed", error, exhausted, repr(exc))
            return
        self._finish(job, "sent_to_dlq", error, exhausted)

    def _finish(
        self,
        job: _Job,
        outcome: str,
        error: DeliveryError | None,
        exhausted: str | None,
        dlq_error: str | None = None,
    ) -> None:
        if error is not None and outcome != "delivered":
            log.warning(
                "event %s to %s: %s (%s)", job.event.get("id"), job.target["Arn"], error, outcome
            )
        with self._lock:
            self._records.append(
                {
                    "rule_arn": job.rule_arn,
                    "target_id": job.target.get("Id"),
                    "target_arn": job.target["Arn"],
                    "event_id": job.event.get("id"),
                    "replay_name": job.event.get("replay-name"),
                    "ok": outcome == "delivered",
                    "attempts": job.attempts,
                    "outcome": outcome,
                    "error": str(error) if error else None,
                    "error_code": error.code if error else None,
                    "exhausted_retry_condition": exhausted,
                    "dlq_error": dlq_error,
                }
            )
            self._pending -= 1
            self._lock.notify_all()

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._client_factory(service)
            return self._clients[service]

    def _queue_url(self, queue_arn: str) -> str:
        queue = Arn.parse(queue_arn)  # an SQS queue's ARN ends in the bare queue name
        return self._client("sqs").get_queue_url(
            QueueName=queue.resource, QueueOwnerAWSAccountId=queue.account
        )["QueueUrl"]
