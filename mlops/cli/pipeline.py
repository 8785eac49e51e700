"""`mlops pipeline status|approve|reject`: the delivery pipeline (codepipeline.yaml's stack,
`--stack-name`, default mlops-delivery; or `--pipeline NAME`): where each stage stands, the
recent pushes, and the production approval waiting, which approve and reject answer."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mlops.cli.render import ago, duration, print_json, table
from mlops.control.aws import AwsTarget
from mlops.control.pipeline import DEFAULT_PIPELINE_STACK, Pipeline


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "pipeline", parents=[parent], help="the delivery pipeline: status, approve, reject"
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    status = verbs.add_parser(
        "status", parents=[parent], help="stages, recent pushes, the approval waiting"
    )
    status.add_argument("--limit", type=int, default=5, help="recent executions shown")
    status.set_defaults(func=status_command)
    approve = verbs.add_parser("approve", parents=[parent], help="approve the release to prod")
    approve.add_argument("--reason", default="approved with mlops", help="the approval's note")
    approve.set_defaults(func=decide_command, approve=True)
    reject = verbs.add_parser("reject", parents=[parent], help="reject the release to prod")
    reject.add_argument("--reason", required=True, help="why (the approval's summary)")
    reject.set_defaults(func=decide_command, approve=False)
    for parser in (status, approve, reject):
        parser.add_argument("--pipeline", help="the pipeline's name (instead of its stack)")


def pipeline_of(args: argparse.Namespace) -> Pipeline:
    aws = AwsTarget(args.profile, args.region, args.endpoint_url)
    if getattr(args, "pipeline", None):
        return Pipeline(aws, args.pipeline)
    return Pipeline.of_stack(aws, args.stack_name or DEFAULT_PIPELINE_STACK)


def status_command(args: argparse.Namespace) -> int:
    pipeline = pipeline_of(args)
    stages, executions = pipeline.stages(), pipeline.executions(args.limit)
    approval = pipeline.waiting_approval()
    found = {
        "pipeline": pipeline.name,
        "stages": stages,
        "executions": executions,
        "approval": approval.to_json() if approval else None,
    }
    lines = [f"pipeline {pipeline.name}", ""]
    lines.append(
        table(
            ["STAGE", "STATUS", "ACTIONS"],
            [[s["stage"], s["status"] or "-", _actions(s["actions"])] for s in stages],
        )
    )
    if approval:
        lines += ["", f"waiting for approval at {approval.stage}/{approval.action}"]
        lines.append(f"  {approval.summary or '(no summary)'}")
        lines.append("  mlops pipeline approve --reason R | mlops pipeline reject --reason R")
    if executions:
        now = datetime.now(UTC)
        rows = [
            [
                e["execution_id"][:8],
                e["status"],
                (e["commit"] or "-")[:7],
                (e["message"] or "")[:40],
                ago(datetime.fromisoformat(e["started"]), now) if e["started"] else "-",
                duration(e["seconds"]) if e["seconds"] is not None else "-",
            ]
            for e in executions
        ]
        lines += ["", table(["EXECUTION", "STATUS", "COMMIT", "MESSAGE", "STARTED", "TOOK"], rows)]
    _print(args, found, "\n".join(lines))
    return 0


def decide_command(args: argparse.Namespace) -> int:
    pipeline = pipeline_of(args)
    approval = pipeline.decide(args.approve, args.reason)
    verdict = "Approved" if args.approve else "Rejected"
    found = {"pipeline": pipeline.name, "status": verdict, "reason": args.reason}
    found |= approval.to_json()
    _print(
        args,
        found,
        f"{verdict} {approval.stage}/{approval.action} of execution "
        f"{(approval.execution_id or '?')[:8]}: {args.reason}",
    )
    return 0


def _actions(actions: list[dict[str, Any]]) -> str:
    parts = []
    for action in actions:
        state = "waiting for approval" if action["waiting_for_approval"] else action["status"]
        parts.append(f"{action['action']} {state or '-'}")
    return ", ".join(parts)


def _print(args: argparse.Namespace, value: Any, human: str) -> None:
    if args.json:
        print_json(value)
    else:
        print(human, flush=True)
