"""`mlops status`: what the control plane is doing, at a glance."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.cli.common import Context
from mlops.cli.render import ago, duration, table
from mlops.cli.runs import where
from mlops.control.drift import checks
from mlops.control.endpoint import alarms, dead_letter_depth, endpoint_view
from mlops.control.runs import last_run, run_json
from mlops.control.timeline import one_line
from mlops.control.versions import champion_version, list_versions


def add(commands: Any, parent: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status",
        parents=[parent],
        help="the endpoint, the last run of each workflow, approvals, alarms, dead letters",
    )
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    plane = ctx.plane
    endpoint = endpoint_view(plane)
    last, missing = {}, {}
    for key in plane.workflows:
        try:
            last[key] = last_run(plane, key)
        except ClientError as exc:  # a state machine deleted outside the stack: say so
            if exc.response["Error"]["Code"] != "StateMachineDoesNotExist":
                raise
            last[key], missing[key] = None, exc.response["Error"]["Code"]
    pending = list_versions(plane, status="PendingManualApproval")
    found_alarms = alarms(plane)
    depth = dead_letter_depth(plane)
    champion = champion_version(plane)
    latest_drift = next(iter(checks(plane, 1)), None)
    document = {
        "stack": {
            "name": plane.stack.name,
            "status": plane.stack.status,
            "region": plane.aws.region,
        },
        "endpoint": endpoint.to_json() if endpoint else None,
        "champion_version": champion,
        "workflows": {key: run_json(plane, view) if view else None for key, view in last.items()},
        "missing_workflows": missing,
        "pending_approval": [v.to_json() for v in pending],
        "alarms": found_alarms,
        "dead_letters": depth,
        "latest_drift_check": latest_drift,
    }
    ctx.result(document, _human(document))
    return 0


def _scaling_text(scaling: dict[str, Any] | None) -> str:
    if not scaling:
        return ""
    target = f", target {scaling['target']:g}/min per instance" if scaling["target"] else ""
    return f", autoscaling {scaling['min']}-{scaling['max']}{target}"


def _human(doc: dict[str, Any]) -> str:
    stack = doc["stack"]
    lines = [f"Stack     {stack['name']} ({stack['status']}, {stack['region']})"]
    endpoint = doc["endpoint"]
    if endpoint is None:
        lines.append("Endpoint  not created yet: nothing is deployed")
    else:
        live = endpoint["live_version"]
        lines.append(
            f"Endpoint  {endpoint['name']}  {endpoint['status']}  "
            f"serving v{live if live is not None else '?'} on {endpoint['config']}"
        )
        for variant in endpoint["variants"]:
            kind = "shadow " if variant["shadow"] else ""
            lines.append(
                f"          {kind}variant {variant['name']}: weight {variant['current_weight']}, "
                f"{variant['instances']} instance(s)"
                + (f", {variant['status']}" if variant["status"] else "")
                + _scaling_text(variant.get("scaling"))
            )
        if endpoint["deployment"]:
            target = endpoint["deployment"]
            steps = ", ".join(
                f"{v['name']} {v['status'] or ''}".strip() for v in target["variants"]
            )
            lines.append(f"          deploying {target['config']}: {steps}")
        if endpoint["failure_reason"]:
            lines.append(f"          failure: {one_line(endpoint['failure_reason'])}")
    champion = doc["champion_version"]
    lines.append(f"Champion  {'v' + str(champion) if champion else 'none (no approved version)'}")
    lines.append("")
    rows = []
    for key, run in doc["workflows"].items():
        if key in doc["missing_workflows"]:
            rows.append([key, f"state machine missing: {doc['missing_workflows'][key]}"])
            continue
        if run is None:
            rows.append([key, "-", "never ran", "", "", ""])
            continue
        started = datetime.fromisoformat(run["started"])
        detail = f"{run['error']}: {run['cause']}" if run["error"] and run["cause"] else ""
        status = f"{run['status']} {where(run)}".strip()
        rows.append([key, run["name"][:8], status, ago(started), duration(run["seconds"]), detail])
    lines.append(table(["WORKFLOW", "LAST RUN", "STATUS", "STARTED", "TOOK", ""], rows, [4]))
    lines.append("")
    pending = doc["pending_approval"]
    if pending:
        waiting = ", ".join(f"v{v['version']} ({v['metric']}={v['score']})" for v in pending)
        lines.append(f"Waiting for approval: {waiting}  ->  mlops approve VERSION")
    else:
        lines.append("Waiting for approval: none")
    alarm_text = ", ".join(f"{a['name']} {a['state']}" for a in doc["alarms"]) or "none"
    lines.append(f"Alarms: {alarm_text}")
    lines.append(_drift_line(doc["latest_drift_check"]))
    depth = doc["dead_letters"]
    lines.append(f"Dead letters: {depth}" + ("  ->  mlops dlq" if depth else ""))
    return "\n".join(lines)


def _drift_line(check: dict[str, Any] | None) -> str:
    if check is None:
        return "Drift: no check yet"
    figures = " ".join(
        f"{name} {check[key]:.3f}"
        for name, key in (("max PSI", "max_psi"), ("max KS", "max_ks"))
        if check[key] is not None
    )
    drifting = ", ".join(f["feature"] for f in check["drifting"][:3])
    return (
        f"Drift: last check {ago(datetime.fromisoformat(check['when']))} {check['outcome']}"
        f" on {check['rows']} rows"
        + (f", {figures}" if figures else "")
        + (f"; drifting: {drifting}  ->  mlops drift --features" if drifting else "")
    )
