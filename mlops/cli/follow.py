"""Following the workflow a command started, live: a line per state as it ends, and under them
a status line with the state it is in and for how long."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlops.cli.common import Context
from mlops.cli.render import duration
from mlops.control.follow import follow, verdict, wait_started
from mlops.control.runs import reason, run_json
from mlops.control.timeline import ExecutionView

STARTED_WITHIN = 120.0  # seconds for an event to start its workflow (it takes seconds)


def follow_started(
    ctx: Context,
    key: str,
    since: datetime,
    match: Callable[[Any], bool],
    timeout: float,
    refused: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Waits for the execution of workflow `key` that the action started, then follows it."""
    label = ctx.plane.workflows[key].label
    ctx.progress.status(f"waiting for {label} to start ...")
    try:
        view = wait_started(ctx.plane, key, since, match, min(timeout, STARTED_WITHIN))
    finally:
        ctx.progress.done()
    return follow_execution(ctx, view, timeout, refused)


def follow_execution(
    ctx: Context, view: ExecutionView, timeout: float, refused: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Follows to its end; says how it ended (raising Refused or Failed as verdict does)."""

    def tick(current: ExecutionView) -> None:
        step = current.timeline.current
        where = f" in {step.state}" if step else ""
        ctx.progress.status(
            f"{current.workflow} {current.name[:8]} running{where}, "
            f"{duration(current.seconds)} so far"
        )

    try:
        ended = follow(ctx.plane, view, ctx.progress.line, timeout, tick)
    finally:
        ctx.progress.done()
    document = run_json(ctx.plane, ended) | {"reason": reason(ended)}
    ctx.say(verdict(ended, refused))
    return document
