"""Rollback and approval audit entries from the ledger: every rollback the RollbackPipeline made
(`rollback#<endpoint>`) and every approval or rejection made with `mlops approve|reject`
(`approval#<model package group>`), newest first; and, asked for by name, the uploads
RecordUpload recorded (`uploads#<data prefix>`: PENDING, TRAINED by a run, SUPERSEDED by the run
that trained a newer upload of the burst, REFUSED, REJECTED)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlops.control.plane import ControlPlane
from mlops.control.versions import approval_key

KINDS = ("rollback", "approval", "upload")
DEFAULT_KINDS = ("rollback", "approval")  # uploads are many: listed when asked for


def entries(plane: ControlPlane, kinds: tuple[str, ...], since: datetime | None) -> list[dict]:
    from mlops_common.domain.rollback import audit_key

    keys = {
        "rollback": audit_key(plane.endpoint_name),
        "approval": approval_key(plane.package_group),
    }
    found = [
        _entry(kind, item)
        for kind in kinds
        if kind != "upload"
        for item in plane.ledger.entries(keys[kind])
        if since is None or _when(item) >= since
    ]
    if "upload" in kinds:
        prefix = f"s3://{plane.stack.output('DataBucketName')}/{plane.stack.output('DataPrefix')}"
        found += [
            _upload(item)
            for item in plane.ledger.uploads(f"uploads#{prefix}")
            if since is None or datetime.fromisoformat(str(item["recorded_at"])) >= since
        ]
    return sorted(found, key=lambda entry: entry["when"], reverse=True)


def _when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(item.get("when") or item["sk"].split("#")[1]))


def _entry(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """One entry with documented keys; numbers as ints (DynamoDB gives Decimals)."""
    if kind == "rollback":
        what = f"v{_int(item.get('from_version'))} -> v{_int(item.get('to_version'))}"
        why, who = item.get("why"), item.get("requested_by")
    else:
        what = f"v{_int(item.get('version'))} {item.get('from_status')} -> {item.get('status')}"
        why, who = item.get("note"), item.get("who")
    return {
        "when": _when(item).isoformat(),
        "kind": kind,
        "who": who,
        "what": what,
        "why": why,
        "trigger": item.get("trigger", "operator"),
        "execution": item.get("execution_arn"),
    }


def _upload(item: dict[str, Any]) -> dict[str, Any]:
    status = item.get("status")
    why = item.get("reason")
    if status == "SUPERSEDED":
        why = f"superseded by run {item.get('run_id')}, which trained {item.get('superseded_by')}"
    elif status in ("TRAINED", "REJECTED"):
        why = f"run {item.get('run_id')}"
    replays = int(item.get("replays") or 0)
    return {
        "when": str(item["recorded_at"]),
        "kind": "upload",
        "who": item.get("requester"),
        "what": f"{item.get('key')} {status}" + (f" (replayed {replays}x)" if replays else ""),
        "why": why,
        "trigger": "upload",
        "execution": item.get("execution_arn"),
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
