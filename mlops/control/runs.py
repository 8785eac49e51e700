"""Executions of the stack's four workflows: listed newest first, found by name, and read
state by state (timeline.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.control.errors import NotFound
from mlops.control.plane import ControlPlane
from mlops.control.timeline import ExecutionView, one_line

SCAN_LIMIT = 1000  # executions per workflow searched for a name


def _summaries(plane: ControlPlane, key: str, since: datetime | None = None):
    """Execution summaries of one workflow, newest first (ListExecutions sorts by start time,
    most recent first: Step Functions API reference), stopping before `since`."""
    pages = plane.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=plane.workflows[key].arn
    )
    for count, summary in enumerate(s for page in pages for s in page["executions"]):
        if count >= SCAN_LIMIT or (since is not None and summary["startDate"] < since):
            return
        yield summary


def _view(plane: ControlPlane, key: str, summary: dict[str, Any]) -> ExecutionView:
    view = ExecutionView(
        plane.workflows[key].label, summary["executionArn"], summary["name"], summary["startDate"]
    )
    view.read(plane.sfn)  # its status, outcome and whole history
    return view


def list_runs(
    plane: ControlPlane, keys: list[str], since: datetime | None, limit: int
) -> list[ExecutionView]:
    """The newest `limit` executions of the given workflows started since `since`."""
    found: list[tuple[str, dict[str, Any]]] = []
    for key in keys:
        for index, summary in enumerate(_summaries(plane, key, since)):
            if index >= limit:
                break
            found.append((key, summary))
    found.sort(key=lambda item: item[1]["startDate"], reverse=True)
    return [_view(plane, key, summary) for key, summary in found[:limit]]


def last_run(plane: ControlPlane, key: str) -> ExecutionView | None:
    summary = next(_summaries(plane, key), None)
    return None if summary is None else _view(plane, key, summary)


def find_run(plane: ControlPlane, ident: str) -> ExecutionView:
    """An execution by ARN, by name, or by the start of its name (as `mlops runs` shows it)."""
    if ident.startswith("arn:"):
        try:
            described = plane.sfn.describe_execution(executionArn=ident)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
                raise NotFound(f"no such execution: {ident}") from exc
            raise
        key = next(
            (k for k, w in plane.workflows.items() if w.arn == described["stateMachineArn"]),
            None,
        )
        if key is None:
            raise NotFound(f"{ident} is not an execution of stack {plane.stack.name}")
        return _view(plane, key, described)
    matches = [
        (key, summary)
        for key in plane.workflows
        for summary in _summaries(plane, key)
        if summary["name"] == ident or summary["name"].startswith(ident)
    ]
    exact = [m for m in matches if m[1]["name"] == ident]
    matches = exact or matches
    if not matches:
        raise NotFound(f"no execution of stack {plane.stack.name} named {ident}")
    if len(matches) > 1:
        names = ", ".join(s["name"] for _, s in matches[:5])
        raise NotFound(f"{ident} names {len(matches)} executions ({names}); give more of it")
    return _view(plane, *matches[0])


def run_json(plane: ControlPlane, view: ExecutionView) -> dict[str, Any]:
    """A run as `--json` prints it (documented keys; times in ISO 8601 UTC)."""
    current = view.timeline.current if view.status == "RUNNING" else None
    return {
        "workflow": plane.workflow_of(view.workflow).key,
        "name": view.name,
        "arn": view.arn,
        "status": view.status,
        "outcome": view.outcome,
        "error": view.error,
        "cause": one_line(view.cause) if view.cause else None,
        "started": view.started.isoformat(),
        "stopped": view.stopped.isoformat() if view.stopped else None,
        "seconds": round(view.seconds, 3),
        "current_state": current.state if current else None,
    }


def timeline_json(view: ExecutionView) -> list[dict[str, Any]]:
    return [
        {
            "state": step.state,
            "entered": step.entered.isoformat(),
            "seconds": None if step.seconds is None else round(step.seconds, 3),
            "error": step.error,
            "cause": step.cause,
        }
        for step in view.timeline.steps
    ]


def reason(view: ExecutionView) -> str | None:
    """Why a workflow skipped: the reason its planning step gave (ValidateDataset's `start`,
    PlanDeployment's and PlanRollback's `plan`), read from the execution's output."""
    try:
        output = json.loads(view.output or "null")
    except ValueError:
        return None
    for key in ("plan", "start"):
        value = output.get(key) if isinstance(output, dict) else None
        payload = value.get("Payload", value) if isinstance(value, dict) else None
        if isinstance(payload, dict) and payload.get("reason"):
            return str(payload["reason"])
    return None
