"""EventBridge Scheduler for the twin: moto 5.2.5 stores schedules and never fires them; this
seam fires them (user guide, "Schedule types", "Managing a schedule", "Configuring a
schedule's dead-letter queue"; API reference, CreateSchedule and UpdateSchedule).

How the twin's clock applies (the choice, tested in tests/twin/test_scheduler.py):
- `at()` and `cron()` name moments of the calendar: they fire on the wall clock, in the
  schedule's time zone (a product that debounces with at(now + 60 s) gets 60 real seconds).
- `rate()` is a duration, like a bake or an alarm period: it runs on the twin's clock. The first
  invocation is at StartDate or, without one, when the schedule is created or updated (as AWS:
  "starts invoking its target immediately"); then every interval * time_scale real seconds.
- StartDate and EndDate are wall-clock moments; both are ignored for one-time schedules.
- State DISABLED fires nothing. FlexibleTimeWindow OFF fires on time; FLEXIBLE fires at the
  start of its window (AWS picks a moment within it).
- RetryPolicy: a failed call is retried after 0.2 s, doubling (at most 6.4 s), in real seconds,
  up to MaximumRetryAttempts, while the invocation's age on the twin's clock stays within
  MaximumEventAgeInSeconds. Errors that would fail the same way (4xx other than throttling)
  are not retried. Then DeadLetterConfig gets the input as its body and attributes ERROR_CODE
  (the target API's error code), ERROR_MESSAGE, EXECUTION_ID, RETRY_ATTEMPTS, SCHEDULE_ARN,
  TARGET_ARN (the attribute names follow EventBridge's DLQ; inferred), or the invocation is
  dropped.
- An at() time already past when the schedule is created or updated fires at once (inferred).
- ActionAfterCompletion DELETE deletes a one-time schedule after its invocation (and its
  retries) ended, and a recurring one once its EndDate has passed.
moto's UpdateSchedule drops ActionAfterCompletion and leaves State empty when omitted; the
seam keeps the first and defaults the second to ENABLED, as the API reference says.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.scheduler.models import scheduler_backends
from moto.scheduler.responses import EventBridgeSchedulerResponse

from mlops.twin.aws.timestamps import epoch_seconds
from mlops.twin.scheduler.delivery import Delivery, Job
from mlops.twin.scheduler.expressions import At, Cron, ExpressionError, Rate, parse
from mlops.twin.scheduler.targets import Invocation
from mlops.twin.seam import Patch, Seam

log = logging.getLogger(__name__)


@dataclass
class _Tracked:
    version: float  # the schedule's LastModificationDate when `due` was computed
    due: datetime | None = None
    fired: datetime | None = None
    in_flight: int = 0
    done: bool = False  # nothing more to fire


class SchedulerSeam(Seam):
    def __init__(
        self,
        account: str,
        region: str,
        client_factory: Callable[[str], Any],
        time_scale: float = 1.0,
        tick_s: float = 0.05,
    ) -> None:
        self.account, self.region, self.time_scale, self.tick_s = (
            account,
            region,
            time_scale,
            tick_s,
        )
        self._lock = threading.RLock()
        self._tracked: dict[str, _Tracked] = {}
        self._stopping = threading.Event()
        self._delivery = Delivery(client_factory, time_scale, self._finish)
        self._thread: threading.Thread | None = None
        self._patch: Patch | None = None
        self.invocations: list[dict[str, Any]] = []

    # -- seam ---------------------------------------------------------------------------------
    def install(self) -> None:
        if self._thread is not None:
            return
        self._patch = Patch(EventBridgeSchedulerResponse, "update_schedule", _keeping_fields())
        self._patch.apply()
        self._thread = threading.Thread(target=self._run, name="twin-scheduler", daemon=True)
        self._thread.start()

    def uninstall(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._delivery.close()
        if self._patch is not None:
            self._patch.restore()
            self._patch = None

    def _run(self) -> None:
        while not self._stopping.wait(self.tick_s):
            try:
                self.fire_due()
            except Exception:  # one bad look must not stop the scheduler
                log.exception("scheduler tick failed")

    # -- when -----------------------------------------------------------------------------------
    def fire_due(self, now: datetime | None = None) -> list[str]:
        """Start every invocation due at `now` (default: the clock); their schedule ARNs."""
        now = now or datetime.now(UTC)
        backend = scheduler_backends[self.account][self.region]
        schedules = [
            s for g in list(backend.schedule_groups.values()) for s in list(g.schedules.values())
        ]
        fired = []
        with self._lock:
            for gone in set(self._tracked) - {s.arn for s in schedules}:
                del self._tracked[gone]
            for schedule in schedules:
                tracked = self._track(schedule, now)
                if tracked.due is not None and tracked.due <= now:
                    fired.append(schedule.arn)
                    self._fire(schedule, tracked, tracked.due)
                    tracked.fired, tracked.due = tracked.due, None
                    self._plan(schedule, tracked, now)
                if tracked.done and tracked.in_flight == 0:
                    self._complete(backend, schedule, tracked)
        return fired

    def _track(self, schedule: Any, now: datetime) -> _Tracked:
        version = float(schedule.last_modified_date)
        tracked = self._tracked.get(schedule.arn)
        if tracked is None or tracked.version != version:  # new, or updated: plan afresh
            tracked = self._tracked[schedule.arn] = _Tracked(version)
            self._plan(schedule, tracked, now)
        elif tracked.due is None and not tracked.done:  # its EndDate may have passed since
            self._plan(schedule, tracked, now)
        return tracked

    def _plan(self, schedule: Any, tracked: _Tracked, now: datetime) -> None:
        """Set `tracked.due` (None and `done` when nothing more will fire)."""
        try:
            expression = parse(schedule.schedule_expression, schedule.schedule_expression_timezone)
        except ExpressionError:
            log.warning("schedule %s: %s is not valid", schedule.arn, schedule.schedule_expression)
            tracked.done = True
            return
        start, end = _moment(schedule.start_date), _moment(schedule.end_date)
        if schedule.state != "ENABLED":
            tracked.due = None
            return
        if isinstance(expression, At):
            tracked.due = None if tracked.fired else expression.moment.astimezone(UTC)
            tracked.done = tracked.fired is not None
            return
        if isinstance(expression, Rate):
            interval = timedelta(seconds=expression.seconds * self.time_scale)
            if tracked.fired is not None:
                due: datetime | None = tracked.fired + interval
            elif start is None:  # from its creation or update on, starting at once
                due = datetime.fromtimestamp(float(schedule.last_modified_date), UTC)
            else:  # StartDate, or its first occurrence not before now
                steps = math.ceil((now - start) / interval) if now > start else 0
                due = start + steps * interval
        else:
            assert isinstance(expression, Cron)
            floor = max(now, start) if start is not None else now
            after = floor - timedelta(microseconds=1)
            due = expression.next_after(max(tracked.fired, after) if tracked.fired else after)
        if due is not None and end is not None and due > end:
            due = None
        tracked.due = due.astimezone(UTC) if due is not None else None
        tracked.done = due is None and end is not None and now >= end

    def _complete(self, backend: Any, schedule: Any, tracked: _Tracked) -> None:
        if schedule.action_after_completion == "DELETE":
            try:
                backend.delete_schedule(schedule.group_name, schedule.name)
            except Exception:  # already deleted by a client
                log.debug("schedule %s was already gone", schedule.arn)
            self._tracked.pop(schedule.arn, None)

    # -- what -----------------------------------------------------------------------------------
    def _fire(self, schedule: Any, tracked: _Tracked, scheduled: datetime) -> None:
        if schedule.state != "ENABLED":
            return
        tracked.in_flight += 1
        invocation = Invocation(schedule.arn, scheduled, uuid.uuid4().hex, 1)
        self._delivery.submit(Job(schedule, invocation, tracked.version))

    def _finish(self, job: Job, outcome: str, error_code: str | None) -> None:
        with self._lock:
            self.invocations.append(
                {
                    "schedule_arn": job.schedule.arn,
                    "scheduled_time": job.invocation.scheduled_time,
                    "execution_id": job.invocation.execution_id,
                    "attempts": job.invocation.attempt,
                    "outcome": outcome,
                    "error_code": error_code,
                }
            )
            tracked = self._tracked.get(job.schedule.arn)
            if tracked is not None and tracked.version == job.version:
                tracked.in_flight -= 1


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(epoch_seconds(value), UTC)


def _keeping_fields() -> Callable[[EventBridgeSchedulerResponse], str]:
    original = EventBridgeSchedulerResponse.update_schedule

    @functools.wraps(original)
    def update_schedule(response: EventBridgeSchedulerResponse) -> str:
        answer = original(response)
        name = response.uri.split("?")[0].split("/")[-1]
        schedule = response.scheduler_backend.get_schedule(response._get_param("GroupName"), name)
        schedule.action_after_completion = response._get_param("ActionAfterCompletion")
        schedule.state = schedule.state or "ENABLED"
        return answer

    return update_schedule
