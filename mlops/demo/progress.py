"""Live progress of the stack's workflows, read through the public Step Functions API
(ListExecutions, GetExecutionHistory) like any operator's tool would."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class ExecutionView:
    workflow: str
    arn: str
    name: str
    status: str = "RUNNING"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    seen_events: int = 0
    transitions: int = 0
    entered: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    error: str | None = None
    cause: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


class Watcher:
    def __init__(
        self, sfn: Any, workflows: dict[str, str], emit: Callable[[str], None] = print
    ) -> None:
        self._sfn = sfn
        self._workflows = workflows  # label -> state machine ARN
        self._emit = emit
        self._t0 = time.monotonic()
        self.executions: dict[str, ExecutionView] = {}

    def _line(self, text: str) -> None:
        self._emit(f"[{time.monotonic() - self._t0:6.1f}s] {text}")

    def poll(self) -> None:
        for label, arn in self._workflows.items():
            for summary in self._sfn.list_executions(stateMachineArn=arn)["executions"]:
                view = self.executions.get(summary["executionArn"])
                if view is None:
                    view = ExecutionView(label, summary["executionArn"], summary["name"])
                    self.executions[view.arn] = view
                    self._line(f"{label} {view.name[:8]} started")
                if view.status == "RUNNING":
                    self._follow(view)

    def _follow(self, view: ExecutionView) -> None:
        events = self._sfn.get_execution_history(executionArn=view.arn, maxResults=1000)["events"]
        for event in events[view.seen_events :]:
            kind = event["type"]
            stamp = event["timestamp"].timestamp()
            if kind.endswith("StateEntered"):
                view.transitions += 1
                view.entered[event["stateEnteredEventDetails"]["name"]].append(stamp)
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                began = view.entered[name].popleft() if view.entered[name] else stamp
                self._line(f"  {view.workflow[:-8]:<8} {name:<24} {stamp - began:6.2f}s")
            elif kind.endswith("Failed") and "taskFailedEventDetails" in event:
                details = event["taskFailedEventDetails"]
                self._line(
                    f"  {view.workflow[:-8]:<8} ! {details.get('error')}: "
                    f"{str(details.get('cause'))[:160]}"
                )
        view.seen_events = len(events)
        described = self._sfn.describe_execution(executionArn=view.arn)
        if described["status"] in TERMINAL:
            view.status, view.finished = described["status"], time.monotonic()
            view.error, view.cause = described.get("error"), described.get("cause")
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
