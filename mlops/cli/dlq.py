"""`mlops dlq` and `mlops dlq redrive`: events EventBridge could not deliver, and delivering
them again to the targets they failed to reach."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mlops.cli.common import Context
from mlops.cli.render import ago, table
from mlops.control.deadletters import peek, redrive
from mlops.control.errors import Failed


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    dlq = commands.add_parser(
        "dlq", parents=[parent], help="dead letters: rule, target, error; `dlq redrive`"
    )
    dlq.set_defaults(func=list_command)
    actions = dlq.add_subparsers(dest="dlq_command", metavar="redrive")
    again = actions.add_parser(
        "redrive",
        parents=[parent],
        help="deliver each again to its target; delete it once the target accepted it",
    )
    again.set_defaults(func=redrive_command)


def _name(arn: str | None) -> str:
    return (arn or "").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _rows(letters: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            ago(datetime.fromisoformat(letter["sent"])) if letter["sent"] else "-",
            _name(letter["rule_arn"]),
            _name(letter["target_arn"]),
            letter["error_code"],
            (letter["error_message"] or "")[:60],
            letter["retry_attempts"],
            letter["event"],
        ]
        for letter in letters
    ]


HEADERS = ["SENT", "RULE", "TARGET", "ERROR", "MESSAGE", "RETRIES", "EVENT"]


def list_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    letters = [letter.to_json() for letter in peek(ctx.plane)]
    human = (
        table(HEADERS, _rows(letters), [5]) + "\n\nmlops dlq redrive delivers them again"
        if letters
        else "no dead letters"
    )
    ctx.result(letters, human)
    return 0


def redrive_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    results = redrive(ctx.plane)
    rows = [
        row + ["delivered, deleted" if r["redriven"] else f"kept: {r['problem']}"]
        for row, r in zip(_rows(results), results, strict=True)
    ]
    human = table(HEADERS + ["REDRIVE"], rows, [5]) if rows else "no dead letters"
    ctx.result(results, human)
    failed = [r for r in results if not r["redriven"]]
    if failed:
        raise Failed(f"{len(failed)} of {len(results)} dead letter(s) could not be redriven")
    return 0
