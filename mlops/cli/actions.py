"""`mlops rollback --reason` and `mlops retrain`: the two workflows an operator starts, followed
to their end."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from mlops.cli.common import Context
from mlops.cli.follow import follow_execution, follow_started
from mlops.control.errors import Refused, UsageError
from mlops.control.retrain import (
    check_rule,
    handled,
    is_request,
    latest_handled,
    put_request,
    refusal,
    resolve_dataset,
    retrain_request,
)
from mlops.control.timeline import ExecutionView

# Endings that did nothing: the command says why and exits 5.
ROLLBACK_REFUSED = frozenset({"NotNeeded"})
RETRAIN_REFUSED = frozenset({"AlreadyHandled"})


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    rollback = commands.add_parser(
        "rollback",
        parents=[parent],
        help="return production to the last known-good version, and follow it",
    )
    rollback.add_argument("--reason", required=True, help="why, for the audit trail")
    _follow_options(rollback)
    rollback.set_defaults(func=rollback_command)
    retrain = commands.add_parser(
        "retrain",
        parents=[parent],
        help="train a dataset version again (S3_URI, or --latest), and follow the run",
    )
    which = retrain.add_mutually_exclusive_group(required=True)
    which.add_argument("s3_uri", nargs="?", help="s3://DataBucket/prefix/key under DataPrefix")
    which.add_argument(
        "--latest", action="store_true", help="the newest version this stack trained or tried"
    )
    retrain.add_argument("--version-id", help="the object version (default: its current one)")
    retrain.add_argument("--reason", required=True, help="why, recorded in the ledger and lineage")
    retrain.add_argument(
        "--force", action="store_true", help="train even a version that was already handled"
    )
    retrain.add_argument("--code-version", help="train with this published code version")
    _follow_options(retrain)
    retrain.set_defaults(func=retrain_command)


def _follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="start it and return")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")


def rollback_command(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise UsageError("a rollback needs a reason (--reason)")
    ctx = Context(args)
    plane = ctx.plane
    request = {"operator": {"requested_by": plane.identity, "reason": args.reason}}
    workflow = plane.workflows["rollback"]
    started = plane.sfn.start_execution(stateMachineArn=workflow.arn, input=json.dumps(request))
    view = ExecutionView(
        workflow.label,
        started["executionArn"],
        started["executionArn"].rsplit(":", 1)[1],
        started["startDate"],
    )
    ctx.say(f"{workflow.label} {view.name} started by {plane.identity}")
    document: dict[str, Any] = {"request": request, "run": {"arn": view.arn, "name": view.name}}
    if not args.no_wait:
        document["run"] = follow_execution(ctx, view, args.timeout, ROLLBACK_REFUSED)
    if ctx.json:
        ctx.result(document, "")
    return 0


def retrain_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    plane = ctx.plane
    dataset = None if args.latest else resolve_dataset(plane, args.s3_uri, args.version_id)
    if not args.force:
        holder = latest_handled(plane) if dataset is None else handled(plane, dataset)
        if holder is not None:
            raise Refused(refusal(holder))
    request = retrain_request(dataset, args.reason, plane.identity, args.force, args.code_version)
    check_rule(plane, request)
    since = datetime.now(UTC)
    event_id = put_request(plane, request)
    what = "the latest dataset version" if dataset is None else dataset.uri
    version = "" if dataset is None else f" version {dataset.version_id or dataset.etag}"
    forced = " (forced)" if args.force else ""
    ctx.say(f"retrain of {what}{version} requested{forced}: event {event_id}")
    document: dict[str, Any] = {"request": request["retrain"], "event_id": event_id, "run": None}
    if not args.no_wait:
        document["run"] = follow_started(
            ctx,
            "training",
            since,
            is_request(request["retrain"]["request_id"]),
            args.timeout,
            RETRAIN_REFUSED,
        )
    if ctx.json:
        ctx.result(document, "")
    return 0
