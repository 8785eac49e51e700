"""`mlops runs`, `mlops runs show ID`, `mlops watch`: the workflows' executions, listed, one
drawn state by state, or followed live."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from mlops.cli.common import Context, span_arg, workflow_option
from mlops.cli.render import ago, duration, stamp, table
from mlops.control.runs import find_run, list_runs, reason, run_json, timeline_json
from mlops.control.timeline import Watcher, one_line


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    runs = commands.add_parser(
        "runs", parents=[parent], help="recent executions of the workflows; `runs show ID`"
    )
    workflow_option(runs)
    runs.add_argument("--since", type=span_arg, help="started within this span, e.g. 2h, 1d")
    runs.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    runs.set_defaults(func=list_command)
    shows = runs.add_subparsers(dest="runs_command", metavar="show")
    show = shows.add_parser(
        "show", parents=[parent], help="one execution, state by state, with durations"
    )
    show.add_argument("id", help="execution name, its first characters, or its ARN")
    show.set_defaults(func=show_command)
    watch = commands.add_parser(
        "watch", parents=[parent], help="follow new executions live until Ctrl-C"
    )
    workflow_option(watch)
    watch.add_argument("--timeout", type=float, help="stop after this many seconds")
    watch.set_defaults(func=watch_command)


def where(run: dict[str, Any]) -> str:
    """The state a running execution is in, else how it ended."""
    return (run["current_state"] if run["status"] == "RUNNING" else run["outcome"]) or ""


def list_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    since = datetime.now(UTC) - args.since if args.since else None
    runs = [
        run_json(ctx.plane, v) for v in list_runs(ctx.plane, ctx.workflows(), since, args.limit)
    ]
    rows = [
        [
            run["workflow"],
            run["name"],
            run["status"],
            where(run),
            ago(datetime.fromisoformat(run["started"])),
            duration(run["seconds"]),
            one_line(run["cause"], 80) if run["cause"] else "",
        ]
        for run in runs
    ]
    headers = ["WORKFLOW", "EXECUTION", "STATUS", "OUTCOME", "STARTED", "TOOK", "CAUSE"]
    human = (
        table(headers, rows, [5]) if rows else "no executions" + (" in that span" if since else "")
    )
    ctx.result(runs, human)
    return 0


def show_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    view = find_run(ctx.plane, args.id)
    document = run_json(ctx.plane, view) | {
        "reason": reason(view),
        "timeline": timeline_json(view),
    }
    lines = [
        f"{view.workflow} {view.name}",
        f"  {view.status}"
        + (f" {view.outcome}" if view.outcome else "")
        + f" in {duration(view.seconds)}, started {stamp(view.started)} ({ago(view.started)})",
    ]
    if view.error:
        lines.append(f"  error: {view.error}: {one_line(view.cause)}")
    elif document["reason"]:
        lines.append(f"  reason: {document['reason']}")
    lines.append("")
    rows = []
    for step in view.timeline.steps:
        offset = (step.entered - view.started).total_seconds()
        note = f"{step.error}: {step.cause}" if step.error else ""
        if step.exited is None and view.status == "RUNNING":
            note = "running"
        rows.append([f"+{offset:.2f}s", step.state, duration(step.seconds), note])
    lines.append(table(["AT", "STATE", "TOOK", ""], rows, [0, 2]))
    ctx.result(document, "\n".join(lines))
    return 0


def watch_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    plane = ctx.plane
    machines = plane.state_machines(ctx.workflows())
    watcher = Watcher(plane.sfn, machines, emit=ctx.say, since=datetime.now(UTC))
    ctx.say(f"watching {', '.join(machines)} of {plane.stack.name}; Ctrl-C stops")
    deadline = time.monotonic() + args.timeout if args.timeout else None
    while deadline is None or time.monotonic() < deadline:
        watcher.poll()
        time.sleep(1.0)
    return 0
