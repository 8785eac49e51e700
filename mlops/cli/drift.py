"""`mlops drift`: the latest drift checks of the live endpoint, and a report's figures."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mlops.cli.common import Context
from mlops.cli.render import ago, table
from mlops.control.drift import checks, report


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    drift = commands.add_parser(
        "drift", parents=[parent], help="latest drift checks: outcome, rows, PSI, KS, features"
    )
    drift.add_argument("--limit", type=int, default=10, help="checks to show (default 10)")
    drift.add_argument(
        "--features",
        action="store_true",
        help="also every feature's figures from the newest check that has a report",
    )
    drift.set_defaults(func=drift_command)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def drift_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    found = checks(ctx.plane, args.limit)
    rows = [
        [
            ago(datetime.fromisoformat(c["when"])),
            c["outcome"],
            f"v{c['version']}" if c["version"] is not None else "-",
            c["rows"],
            _number(c["max_psi"]),
            _number(c["max_ks"]),
            ", ".join(f["feature"] for f in c["drifting"][:3]) or "-",
        ]
        for c in found
    ]
    headers = ["WHEN", "OUTCOME", "LIVE", "ROWS", "MAX PSI", "MAX KS", "DRIFTING"]
    human = table(headers, rows, right=(3, 4, 5)) if rows else "no drift checks yet"
    result: Any = found
    newest = next((c for c in found if c["report_uri"]), None)
    if args.features and newest is not None:
        figures = report(ctx.plane, newest["report_uri"])
        per_feature = sorted(figures["features"].items(), key=lambda kv: -kv[1]["psi"])
        human += f"\n\nReport {newest['report_uri']} ({figures['rows']} rows)\n" + table(
            ["FEATURE", "PSI", "KS", "MISSING", "OUT OF RANGE"],
            [
                [
                    name,
                    _number(f["psi"]),
                    _number(f["ks"]),
                    f"{f['missing_share']:.1%}",
                    f"{f['out_of_range_share']:.1%}",
                ]  # fmt: skip
                for name, f in per_feature
            ],
            right=(1, 2, 3, 4),
        )
        result = {"checks": found, "report": figures}
    ctx.result(result, human)
    return 0
