"""`mlops replay --from T --to T`: re-drive the workflows with the events the stack's archive
kept in a window; `--dry-run` says what the window holds, `--wait` follows the replay."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from mlops.cli.common import Context, time_arg, workflow_option
from mlops.cli.render import stamp, table
from mlops.control.errors import Failed, TimedOut
from mlops.control.follow import POLL_SECONDS
from mlops.control.plane import REPLAYABLE
from mlops.control.replay import (
    REPLAY_ENDED,
    archive,
    check_window,
    describe_replay,
    replayed_runs,
    start_replay,
    window_contents,
)
from mlops.control.timeline import TERMINAL, Watcher

SETTLE_SECONDS = 5.0  # after the replay ends, for its last events to start their workflows


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    replay = commands.add_parser(
        "replay", parents=[parent], help="replay archived events of a window to the workflows"
    )
    replay.add_argument(
        "--from", dest="start", type=time_arg, required=True, help="ISO 8601, or a span ago (2h)"
    )
    replay.add_argument(
        "--to", dest="end", type=time_arg, default="now", help="ISO 8601, a span ago, or now"
    )
    workflow_option(replay, REPLAYABLE)
    replay.add_argument("--dry-run", action="store_true", help="say what the window holds")
    replay.add_argument(
        "--wait", action="store_true", help="follow the replay and the runs it starts to the end"
    )
    replay.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    replay.set_defaults(func=replay_command)


def replay_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    plane, keys = ctx.plane, ctx.workflows()
    kept = archive(plane)
    now = datetime.now(UTC)
    end, warnings = check_window(kept, args.start, args.end, now)
    for warning in warnings:
        ctx.say(f"warning: {warning}")
    window = f"{stamp(args.start)} .. {stamp(end)}"
    if args.dry_run:
        contents = window_contents(plane, args.start, end, keys)
        rows = [
            [
                stamp(datetime.fromisoformat(c["started"])),
                c["workflow"],
                c["execution"][:8],
                c["error"] or c["status"],
                c["event"],
                c["replay"],
            ]
            for c in contents
        ]
        human = (
            f"The window {window} started {len(rows)} execution(s) of {', '.join(keys)}:\n"
            + table(["STARTED", "WORKFLOW", "RUN", "ENDED", "EVENT", "A REPLAY MEETS"], rows)
            if rows
            else f"Nothing in {window} started {', '.join(keys)}: a replay would start nothing"
        )
        ctx.result({"window": [args.start.isoformat(), end.isoformat()], "events": contents}, human)
        return 0
    began = datetime.now(UTC)
    name = start_replay(plane, kept, args.start, end, keys)
    ctx.say(f"replay {name} of {window} to {', '.join(keys)} started")
    document: dict[str, Any] = {"replay": name, "state": None, "runs": []}
    if args.wait:
        document |= _wait(ctx, name, (args.start, end), keys, began, args.timeout)
    if ctx.json:
        ctx.result(document, "")
    return 0


def _wait(
    ctx: Context,
    name: str,
    window: tuple[datetime, datetime],
    keys: list[str],
    began: datetime,
    timeout: float,
) -> dict[str, Any]:
    plane = ctx.plane
    start, end = window
    deadline = time.monotonic() + timeout
    while True:
        described = describe_replay(plane, name)
        state = described["State"]
        if state in REPLAY_ENDED:
            break
        last = described.get("EventLastReplayedTime")
        done = (last - start) / (end - start) * 100 if last else 0.0
        ctx.progress.status(f"replay {name}: {state}, {done:.0f}% of the window")
        if time.monotonic() > deadline:
            ctx.progress.done()
            raise TimedOut(f"replay {name} still {state} after {timeout:g} s")
        time.sleep(POLL_SECONDS)
    ctx.progress.done()
    if state != "COMPLETED":
        raise Failed(f"replay {name} {state}: {described.get('StateReason', '')}")
    ctx.say(f"replay {name} COMPLETED; following the runs it started")
    watcher = Watcher(plane.sfn, {}, emit=ctx.progress.line, discover=False)
    checked: set[str] = set()
    settled = time.monotonic() + SETTLE_SECONDS  # the replay's last events start their runs
    while time.monotonic() < settled or watcher.running():
        for key, summary in replayed_runs(plane, name, keys, began, checked):
            label = plane.workflows[key].label
            watcher.track(label, summary["executionArn"], summary["name"], summary["startDate"])
        watcher.poll()
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    runs = [
        {
            "workflow": plane.workflow_of(v.workflow).key,
            "name": v.name,
            "status": v.status,
            "outcome": v.outcome,
        }
        for v in watcher.executions.values()
    ]
    if not runs:
        ctx.say("it started no workflow")
    for run in runs:
        ctx.say(f"  {run['workflow']} {run['name'][:8]} {run['status']} {run['outcome'] or ''}")
    unfinished = [r for r in runs if r["status"] not in TERMINAL]
    if unfinished:
        raise TimedOut(f"{len(unfinished)} run(s) the replay started are still running")
    return {"state": state, "runs": runs}
