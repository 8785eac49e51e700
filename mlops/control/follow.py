"""Waiting on the workflow an operator's action started: find the execution (by what its input
says), follow it state by state to its end, and say what its ending means."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mlops.control.errors import Failed, Refused, TimedOut
from mlops.control.plane import ControlPlane
from mlops.control.runs import reason
from mlops.control.timeline import TERMINAL, ExecutionView, Watcher, one_line

CLOCK_SKEW = timedelta(minutes=2)  # this machine's clock against the service's
POLL_SECONDS = 1.0


def wait_started(
    plane: ControlPlane,
    key: str,
    since: datetime,
    match: Callable[[Any], bool],
    timeout: float,
    tick: Callable[[], None] = lambda: None,
) -> ExecutionView:
    """The execution of workflow `key`, started after `since`, whose input `match`es (the
    input parsed from JSON). An event reaches its rule's target within seconds; when none
    comes, the rule did not match or could not deliver (its dead letters say which)."""
    workflow = plane.workflows[key]
    checked: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        listed = plane.sfn.list_executions(stateMachineArn=workflow.arn, maxResults=100)
        for summary in listed["executions"]:
            if summary["startDate"] < since - CLOCK_SKEW:
                break  # newest first: the rest started before the action
            if summary["executionArn"] in checked:
                continue
            checked.add(summary["executionArn"])
            described = plane.sfn.describe_execution(executionArn=summary["executionArn"])
            try:
                document = json.loads(described.get("input") or "null")
            except ValueError:
                document = None
            if match(document):
                return ExecutionView(
                    workflow.label, summary["executionArn"], summary["name"], summary["startDate"]
                )
        if time.monotonic() > deadline:
            raise TimedOut(
                f"no {workflow.label} execution started within {timeout:g} s: is the rule that "
                "starts it deployed? `mlops dlq` lists events it could not deliver"
            )
        tick()
        time.sleep(POLL_SECONDS)


def follow(
    plane: ControlPlane,
    view: ExecutionView,
    emit: Callable[[str], None],
    timeout: float,
    tick: Callable[[ExecutionView], None] = lambda _view: None,
) -> ExecutionView:
    """Follows one execution to its end, emitting a line per state; `tick` after each read."""
    watcher = Watcher(plane.sfn, {}, emit=emit, discover=False)
    watcher.track(view.workflow, view.arn, view.name, view.started)
    followed = watcher.executions[view.arn]
    deadline = time.monotonic() + timeout
    while True:
        watcher.poll()
        if followed.status in TERMINAL:
            return followed
        if time.monotonic() > deadline:
            raise TimedOut(
                f"{view.workflow} {view.name} still running after {timeout:g} s; "
                f"see it with: mlops runs show {view.name}"
            )
        tick(followed)
        time.sleep(POLL_SECONDS)


def verdict(view: ExecutionView, refused: frozenset[str] = frozenset()) -> str:
    """One line saying how the execution ended. Raises Failed for a failed, timed-out or
    aborted execution, Refused for an ending in `refused` (or NothingToRollBack)."""
    label = f"{view.workflow} {view.name}"
    if view.status == "SUCCEEDED":
        why = reason(view)
        line = f"{label} ended {view.outcome}" + (f": {why}" if why else "")
        if view.outcome in refused:
            raise Refused(line)
        return line
    if view.error == "NothingToRollBack":
        raise Refused(f"nothing to roll back: {one_line(view.cause)}")
    detail = f"{view.error}: {one_line(view.cause)}" if view.error else view.status
    raise Failed(f"{label} {view.status}: {detail}")
