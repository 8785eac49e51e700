"""An execution of the stack's workflows state by state, read through the public Step Functions
API (ListExecutions, DescribeExecution, GetExecutionHistory) like any operator's tool would.

One implementation for every view of it: `mlops runs show` draws a finished Timeline as a table,
and the Watcher prints it live, line by line, for `mlops watch`, for every command that waits on
a workflow, and for the demo.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def one_line(cause: Any, limit: int = 200) -> str:
    """The first line of a failure's cause. A Lambda error document (errorType, errorMessage,
    stackTrace: "Lambda function errors in Python", Lambda developer guide) gives the first line
    of its message, never its stack trace; a SageMaker job description its FailureReason."""
    text = "" if cause is None else str(cause)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        for key in ("errorMessage", "FailureReason", "Cause", "errorType"):
            if document.get(key):
                text = str(document[key])
                break
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


@dataclass
class Step:
    """One state of an execution: entered, and exited unless it is still running or failed."""

    state: str
    entered: datetime
    exited: datetime | None = None
    error: str | None = None
    cause: str | None = None  # one line

    @property
    def seconds(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds()


@dataclass
class Timeline:
    """The states of one execution in the order they were entered, built from its history
    events (fed in order, as often as new ones arrive)."""

    steps: list[Step] = field(default_factory=list)
    seen: int = 0  # history events consumed so far
    _open: dict[str, deque[Step]] = field(default_factory=lambda: defaultdict(deque))

    def feed(self, events: list[dict[str, Any]]) -> list[tuple[Step, bool]]:
        """Consumes the events after the ones already seen (`events` is the whole history so
        far); returns each step that ended with them, and whether it ended by failing. A failed
        step keeps the time it failed as its end, until a retry of it exits."""
        ended: list[tuple[Step, bool]] = []
        for event in events[self.seen :]:
            kind, stamp = event["type"], event["timestamp"]
            if kind.endswith("StateEntered"):
                step = Step(event["stateEnteredEventDetails"]["name"], stamp)
                self.steps.append(step)
                self._open[step.state].append(step)
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                opened = self._open[name]
                step = opened.popleft() if opened else Step(name, stamp)
                step.exited = stamp
                ended.append((step, False))
            elif (details := _failure(event)) is not None and not kind.startswith("Execution"):
                step = self.current or Step("?", stamp)
                step.error, step.cause = details.get("error"), one_line(details.get("cause"))
                step.exited = stamp
                ended.append((step, True))
        self.seen = len(events)
        return ended

    @property
    def current(self) -> Step | None:
        """The state entered last and not exited: where a running execution is."""
        return next((s for s in reversed(self.steps) if s.exited is None), None)

    @property
    def last_state(self) -> str | None:
        return self.steps[-1].state if self.steps else None


def _failure(event: dict[str, Any]) -> dict[str, Any] | None:
    """The error and cause of a failure event (TaskFailed, LambdaFunctionFailed, ...)."""
    if not event["type"].endswith(("Failed", "TimedOut")):
        return None
    return next(
        (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {}
    )


@dataclass
class ExecutionView:
    """An execution of one of the stack's workflows, as far as it has been read."""

    workflow: str  # "TrainingPipeline", ...
    arn: str
    name: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "RUNNING"
    stopped: datetime | None = None
    error: str | None = None
    cause: str | None = None
    output: str | None = None  # the JSON output of a succeeded execution
    timeline: Timeline = field(default_factory=Timeline)
    _final: bool = field(default=False, repr=False)  # described after it ended

    @property
    def seconds(self) -> float:
        return ((self.stopped or datetime.now(UTC)) - self.started).total_seconds()

    @property
    def transitions(self) -> int:
        return len(self.timeline.steps)

    @property
    def outcome(self) -> str | None:
        """How it ended: the error of a failed execution, else the state it ended in."""
        if self.status not in TERMINAL:
            return None
        return self.error or self.timeline.last_state or self.status

    def read(self, sfn: Any) -> list[tuple[Step, bool]]:
        """Reads the status, then the history events not seen yet (so the history of an ended
        execution is read whole); returns the steps that ended, as Timeline.feed does."""
        if not self._final:
            described = sfn.describe_execution(executionArn=self.arn)
            self.status = described["status"]
            self.started = described.get("startDate", self.started)
            if self.status in TERMINAL:
                self.stopped, self.output = described.get("stopDate"), described.get("output")
                self.error, self.cause = described.get("error"), described.get("cause")
                self._final = True
        return self.timeline.feed(history(sfn, self.arn))


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first, page by page."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000}
    )
    return [event for page in pages for event in page["events"]]


class Watcher:
    """Follows executions of the given workflows (label -> state machine ARN) and prints each
    new execution, each state as it ends, each failure and each end as one line."""

    def __init__(
        self,
        sfn: Any,
        workflows: dict[str, str],
        emit: Callable[[str], None] = print,
        since: datetime | None = None,
        discover: bool = True,
    ) -> None:
        self._sfn = sfn
        self._workflows = workflows
        self._emit = emit
        self._since = since  # executions started before are not followed
        self._discover = discover  # False: only the executions given to track()
        self._t0 = time.monotonic()
        self.executions: dict[str, ExecutionView] = {}

    def _line(self, text: str) -> None:
        self._emit(f"[{time.monotonic() - self._t0:6.1f}s] {text}")

    def track(self, workflow: str, arn: str, name: str, started: datetime | None = None) -> None:
        if arn not in self.executions:
            view = ExecutionView(workflow, arn, name, started or datetime.now(UTC))
            self.executions[arn] = view
            self._line(f"{workflow} {name[:8]} started")

    def poll(self) -> None:
        if self._discover:
            for label, arn in self._workflows.items():
                listed = self._sfn.list_executions(stateMachineArn=arn, maxResults=100)
                for summary in reversed(listed["executions"]):  # oldest first
                    if self._since is None or summary["startDate"] >= self._since:
                        self.track(
                            label, summary["executionArn"], summary["name"], summary["startDate"]
                        )
        for view in list(self.executions.values()):
            if view.status == "RUNNING":
                self._follow(view)

    def _follow(self, view: ExecutionView) -> None:
        label = view.workflow.removesuffix("Pipeline")
        for step, failed in view.read(self._sfn):
            if failed:
                self._line(f"  {label:<8} ! {step.error}: {step.cause}")
            else:
                self._line(f"  {label:<8} {step.state:<24} {step.seconds or 0:6.2f}s")
        if view.status in TERMINAL:
            outcome = f" {view.error}" if view.error else ""
            self._line(
                f"{view.workflow} {view.name[:8]} {view.status}{outcome} "
                f"in {view.seconds:.1f}s ({view.transitions} states)"
            )

    def wait(self, done: Callable[[Watcher], bool], timeout: float, interval: float = 0.3) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if done(self):
                return True
            time.sleep(interval)
        return False

    def finished(self, workflow: str) -> list[ExecutionView]:
        return [
            v for v in self.executions.values() if v.workflow == workflow and v.status in TERMINAL
        ]

    def running(self) -> list[ExecutionView]:
        return [v for v in self.executions.values() if v.status == "RUNNING"]
