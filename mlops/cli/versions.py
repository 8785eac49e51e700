"""`mlops versions`, `mlops approve VERSION`, `mlops reject VERSION`: the model registry, and an
operator's decision on a version (the stack's rules do the rest: an approval deploys, a
rejection of the live version rolls back)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mlops.cli.common import Context
from mlops.cli.follow import follow_started
from mlops.cli.render import ago, table
from mlops.control.versions import list_versions, set_approval

STATUSES = ["Approved", "Rejected", "PendingManualApproval"]


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    versions = commands.add_parser(
        "versions", parents=[parent], help="the model registry: every version, live, champion"
    )
    versions.add_argument("--status", choices=STATUSES, help="only versions with this status")
    versions.set_defaults(func=versions_command)
    approve = commands.add_parser(
        "approve", parents=[parent], help="approve a version: the DeployPipeline deploys it"
    )
    approve.add_argument("version", type=int)
    approve.add_argument("--note", default="approved with mlops", help="why, for the record")
    _wait_options(approve, "follow the deployment it starts to its end")
    approve.set_defaults(func=approve_command)
    reject = commands.add_parser(
        "reject",
        parents=[parent],
        help="reject a version; rejecting the live one rolls production back",
    )
    reject.add_argument("version", type=int)
    reject.add_argument("--reason", required=True, help="why, for the record")
    _wait_options(reject, "follow the rollback it starts (live version only) to its end")
    reject.set_defaults(func=reject_command)


def _wait_options(parser: argparse.ArgumentParser, wait_help: str) -> None:
    parser.add_argument("--wait", action="store_true", help=wait_help)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")


def versions_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    found = list_versions(ctx.plane, args.status)
    rows = []
    for view in found:
        doc = view.to_json()
        marks = " ".join(m for m, on in (("live", view.live), ("champion", view.champion)) if on)
        dataset = doc["dataset"] or ""
        if doc["dataset_version"]:
            dataset += f" @{doc['dataset_version'][:12]}"
        rows.append(
            [
                f"v{view.version}",
                view.status,
                marks,
                f"{doc['metric']}={doc['score']}" if doc["metric"] else "",
                doc["champion_score"] if doc["champion_score"] is not None else "none",
                dataset,
                doc["code_version"] or "",
                _training_time(doc),
                ago(view.created),
            ]
        )
    headers = ["VERSION", "STATUS", "", "SCORE", "CHAMPION THEN", "DATASET", "CODE", "TRAINING",
               "CREATED"]  # fmt: skip
    human = table(headers, rows) if rows else "no versions registered yet"
    ctx.result([v.to_json() for v in found], human)
    return 0


def _training_time(doc: dict[str, Any]) -> str:
    """'412 s, 12 s billed (97.1% saved)': the training job's times and the spot saving."""
    if doc["training_seconds"] is None:
        return ""
    text = f"{doc['training_seconds']:.0f} s"
    if doc["billable_seconds"] is not None:
        text += f", {doc['billable_seconds']:.0f} s billed"
    if doc["spot_saving_percent"]:
        text += f" ({doc['spot_saving_percent']:g}% saved)"
    return text


def approve_command(args: argparse.Namespace) -> int:
    return _decide(args, "Approved", args.note, "deploy")


def reject_command(args: argparse.Namespace) -> int:
    return _decide(args, "Rejected", args.reason, "rollback")


def _decide(args: argparse.Namespace, status: str, note: str, workflow: str) -> int:
    ctx = Context(args)
    since = datetime.now(UTC)
    view = set_approval(ctx.plane, args.version, status, note)
    ctx.say(f"v{view.version} is {view.status}: {view.approval_description}")
    document: dict[str, Any] = {"version": view.to_json(), "run": None}
    follows = args.wait and (status == "Approved" or view.live)
    if status == "Rejected" and not view.live:
        ctx.say("it is not live: production is unaffected")
    if follows:
        document["run"] = follow_started(
            ctx, workflow, since, _changed(view.arn, status), args.timeout
        )
    if ctx.json:
        ctx.result(document, "")
    return 0


def _changed(arn: str, status: str):
    """Matches the state-change event of this package to this status, as the rule passes it."""

    def match(document: Any) -> bool:
        detail = document.get("detail") if isinstance(document, dict) else None
        return (
            isinstance(detail, dict)
            and detail.get("ModelPackageArn") == arn
            and detail.get("ModelApprovalStatus") == status
        )

    return match
