"""`mlops schema accept --reason R` and `mlops schema show`: declare that the next dataset may
change the features (names, order) the champion was trained on, and see the declaration."""

from __future__ import annotations

import argparse
from typing import Any

from mlops.cli.common import Context
from mlops.control.schema import accept, current


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    schema = commands.add_parser(
        "schema", parents=[parent], help="declare a feature schema change, or show it"
    )
    verbs = schema.add_subparsers(dest="verb", required=True, metavar="VERB")
    accepting = verbs.add_parser(
        "accept",
        parents=[parent],
        help="the next dataset may have other features than the champion's",
    )
    accepting.add_argument("--reason", required=True, help="why, recorded in the lineage")
    accepting.set_defaults(func=accept_command)
    showing = verbs.add_parser("show", parents=[parent], help="the newest declaration")
    showing.set_defaults(func=show_command)


def accept_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    entry = accept(ctx.plane, args.reason)
    human = (
        f"schema change declared by {entry['declared_by']} against champion version "
        f"{entry['replaces_version']}: the next dataset's features are not compared with the "
        "champion's; its version is judged on MinimumMetric alone"
    )
    ctx.result(entry, human)
    return 0


def show_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    found = current(ctx.plane)
    declared = found["declaration"]
    if declared is None:
        human = "no schema change declared"
    else:
        state = "holds" if found["holds"] else "no longer holds (the champion changed)"
        human = (
            f"{declared['declared_at']} {declared['declared_by']}: {declared['reason']} "
            f"(against version {declared['replaces_version']}) - {state}"
        )
    ctx.result(found, human)
    return 0
