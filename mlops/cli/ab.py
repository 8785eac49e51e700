"""`mlops ab status|promote|stop|labels`: the running A/B test, an operator's early decision,
and ground truth for its requests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlops.cli.common import Context
from mlops.cli.render import table
from mlops.control.ab import decide, status, upload_labels


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    ab = commands.add_parser(
        "ab", parents=[parent], help="A/B tests: status, decide early, upload labels"
    )
    verbs = ab.add_subparsers(dest="verb", required=True, metavar="VERB")
    showing = verbs.add_parser(
        "status", parents=[parent], help="variants, weights, requests, errors, latency, quality"
    )
    showing.set_defaults(func=status_command)
    for verb, meaning in (
        ("promote", "end the running test now: roll the candidate out (guarded)"),
        ("stop", "end the running test now: the live version alone, the candidate rejected"),
    ):
        deciding = verbs.add_parser(verb, parents=[parent], help=meaning)
        deciding.add_argument("--reason", required=True, help="why, recorded on the version")
        deciding.set_defaults(func=decide_command, decision=verb)
    labelling = verbs.add_parser(
        "labels",
        parents=[parent],
        help="upload true labels of requests (JSON Lines or CSV inference_id,label)",
    )
    labelling.add_argument("file", type=Path, help="the labels file")
    labelling.set_defaults(func=labels_command)


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.4g}{unit}"


def status_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    test = status(ctx.plane)
    c = test["comparison"]
    rows = [
        [
            f["variant"],
            f"{f['weight_percent']} %",
            f["requests"],
            _number(f["error_rate"]),
            _number(f["latency_ms"], " ms"),
            f"{_number(f['quality'])} ({f['labelled']})" if f["labelled"] else "-",
        ]
        for f in (c["live"], c["candidate"])
    ]
    metric = c["quality_metric"] or "quality"
    human = "\n".join(
        [
            f"A/B test of version {test['version']} on {ctx.plane.endpoint_name}: "
            f"{test['state']} (began {test['began_at']}, {test['time_left_seconds']} s left)",
            table(
                ["VARIANT", "WEIGHT", "REQUESTS", "ERROR RATE", "LATENCY", metric.upper()],
                rows,
                right=(1, 2, 3, 4),
            ),
            f"now: {c['decision']} ({c['decided_by']}): {c['reason']}",
            f"rule: {test['rule']}",
            f"labels: {test['labels']}",
        ]
    )
    ctx.result(test, human)
    return 0


def decide_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    entry = decide(ctx.plane, args.decision, args.reason)
    human = (
        f"{entry['decision']} of version {entry['version']} recorded for "
        f"{entry['execution_arn']}; the DeployPipeline acts on it at its next poll"
    )
    ctx.result(entry, human)
    return 0


def labels_command(args: argparse.Namespace) -> int:
    ctx = Context(args)
    uploaded = upload_labels(ctx.plane, args.file)
    ctx.result(uploaded, f"{uploaded['labels']} labels uploaded to {uploaded['uri']}")
    return 0
