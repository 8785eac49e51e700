"""`mlops audit`: who rolled back, approved or rejected what, when and why."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mlops.cli.common import Context, span_arg
from mlops.cli.render import ago, table
from mlops.control.audit import DEFAULT_KINDS, KINDS, entries


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    audit = commands.add_parser(
        "audit", parents=[parent], help="rollback and approval audit entries from the ledger"
    )
    audit.add_argument(
        "--kind",
        choices=KINDS,
        help="only rollbacks, only approvals, or the uploads (PENDING, "
        "TRAINED, SUPERSEDED by which run)",
    )
    audit.add_argument("--since", type=span_arg, help="within this span, e.g. 7d")
    audit.set_defaults(func=audit_command)


def audit_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    since = datetime.now(UTC) - args.since if args.since else None
    found = entries(ctx.plane, (args.kind,) if args.kind else DEFAULT_KINDS, since)
    rows = [
        [ago(datetime.fromisoformat(e["when"])), e["kind"], e["what"], e["who"], e["why"] or ""]
        for e in found
    ]
    human = table(["WHEN", "KIND", "WHAT", "WHO", "WHY"], rows) if rows else "no audit entries"
    ctx.result(found, human)
    return 0
