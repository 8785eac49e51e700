"""A/B tests from the operator's side (`mlops ab`): the running test's figures as JudgeABTest
last recorded them (ledger `abtest#<endpoint>`, `test#<execution>`), an operator's decision
(`decision#<execution>`, put once: the first decision stands) that the DeployPipeline acts on
at its next poll, and labels uploaded under `s3://<artifacts>/ab-labels/<endpoint>/`
(mlops_common.domain.ab_quality)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.control.drift import _plain
from mlops.control.errors import NotFound, Refused, UsageError
from mlops.control.plane import ControlPlane

DECISIONS = {"promote": "PROMOTE", "stop": "STOP"}


def tests(plane: ControlPlane) -> list[dict[str, Any]]:
    """Every A/B test of the endpoint, newest first, its execution's status read live (a test
    whose execution ended while RUNNING was recorded was cut short: aborted or failed)."""
    from mlops_common.domain.ab_test import ledger_key

    found = []
    for item in plane.ledger.views(ledger_key(plane.endpoint_name), "test#"):
        entry = _plain(item)
        execution = plane.sfn.describe_execution(executionArn=entry["execution_arn"])["status"]
        state = entry["state"]
        if state == "RUNNING" and execution != "RUNNING":
            state = f"ENDED ({execution})"
        found.append(
            {
                "execution": entry["execution_arn"],
                "execution_name": entry["sk"].removeprefix("test#"),
                "version": entry.get("version"),
                "state": state,
                "began_at": entry.get("began_at"),
                "updated_at": entry.get("updated_at"),
                "comparison": entry["comparison"],
            }
        )
    return sorted(found, key=lambda t: t["began_at"] or "", reverse=True)


def status(plane: ControlPlane) -> dict[str, Any]:
    """The running test, else the newest one; with the rule it is decided by."""
    found = tests(plane)
    if not found:
        raise NotFound(f"no A/B test has run on {plane.endpoint_name}")
    test = next((t for t in found if t["state"] == "RUNNING"), found[0])
    c = test["comparison"]
    left = max(0, c["window_seconds"] - c["elapsed_seconds"])
    return test | {
        "time_left_seconds": left if test["state"] == "RUNNING" else 0,
        "rule": rule(c["thresholds"], c["window_seconds"]),
        "labels": f"s3://{plane.stack.output('ArtifactsBucketName')}/ab-labels/"
        f"{plane.endpoint_name}/",
    }


def rule(thresholds: dict[str, Any], window: int) -> str:
    return (
        f"decided after {window} s, or once both variants served "
        f"{thresholds['ab_min_requests']} requests; promoted if the candidate served at least "
        f"that many, its error rate is at most {thresholds['ab_max_error_rate_increase']} above "
        f"the live one's, its latency at most {thresholds['ab_max_latency_ratio']}x, and, with "
        f"labels, its quality at least {thresholds['ab_min_quality_difference']:+} on the live "
        "one's; else stopped"
    )


def decide(plane: ControlPlane, verb: str, reason: str) -> dict[str, Any]:
    """Puts the operator's decision for the running test, once."""
    from mlops_common.domain.ab_test import ledger_key

    if not reason.strip():
        raise UsageError(f"mlops ab {verb} needs a reason (--reason)")
    running = [t for t in tests(plane) if t["state"] == "RUNNING"]
    if not running:
        raise Refused(f"no A/B test is running on {plane.endpoint_name}")
    test = running[0]
    entry = {
        "decision": DECISIONS[verb],
        "requested_by": plane.identity,
        "reason": reason.strip(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "execution_arn": test["execution"],
        "version": test["version"],
    }
    table = plane.ledger_table
    try:
        table.put_item(
            Item={"pk": ledger_key(plane.endpoint_name), "sk": f"decision#{test['execution_name']}"}
            | entry,
            ConditionExpression="attribute_not_exists(pk)",
        )
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        raise Refused(
            f"the A/B test of version {test['version']} already has an operator's decision"
        ) from None
    return entry


def upload_labels(plane: ControlPlane, path: Path) -> dict[str, Any]:
    """Uploads a labels file (JSON Lines or CSV inference_id,label) once it parses."""
    from mlops_common.domain.ab_quality import labels_prefix, parse_labels

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        labels = parse_labels(text)
    except ValueError as exc:
        raise UsageError(
            f"{path} is neither JSON Lines nor CSV inference_id,label: {exc}"
        ) from None
    if not labels:
        raise UsageError(f"{path} names no inference id with a label")
    bucket = plane.stack.output("ArtifactsBucketName")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{labels_prefix(plane.endpoint_name)}{stamp}-{path.name}"
    plane.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
    return {"uri": f"s3://{bucket}/{key}", "labels": len(labels)}
