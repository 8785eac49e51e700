"""Rollback and approval audit entries from the ledger: every rollback the RollbackPipeline made
(`rollback#<endpoint>`) and every approval or rejection made with `mlops approve|reject`
(`approval#<model package group>`), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlops.control.plane import ControlPlane
from mlops.control.versions import approval_key

KINDS = ("rollback", "approval")


def entries(plane: ControlPlane, kinds: tuple[str, ...], since: datetime | None) -> list[dict]:
    from mlops_common.domain.rollback import audit_key

    keys = {
        "rollback": audit_key(plane.endpoint_name),
        "approval": approval_key(plane.package_group),
    }
    found = [
        _entry(kind, item)
        for kind in kinds
        for item in plane.ledger.entries(keys[kind])
        if since is None or _when(item) >= since
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


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
