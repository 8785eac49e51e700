"""Replays of the stack's archive to the stack's bus (EventBridge user guide, "Archiving and
replaying events"; API StartReplay, DescribeReplay).

Only events archived between the window's ends are replayed, and only to the rules of the
chosen workflows (Destination.FilterArns). No API reads archived events, so what a window holds
is told from what those events did: the executions they started and the ledger's records.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlops.control.errors import Refused
from mlops.control.follow import CLOCK_SKEW
from mlops.control.plane import ControlPlane
from mlops.control.retrain import DETAIL_TYPE, RECLAIMABLE, SOURCE, dataset_version

# "events might not be archived immediately ... wait about 10 minutes before replaying recent
# events" (EventBridge user guide, replaying archived events).
ARCHIVE_LAG = timedelta(minutes=10)
REPLAY_ENDED = {"COMPLETED", "CANCELLED", "FAILED"}


@dataclass(frozen=True)
class Archive:
    name: str
    arn: str
    bus_arn: str
    retention_days: int  # 0: kept forever
    created: datetime | None


def archive(plane: ControlPlane) -> Archive:
    described = plane.client("events").describe_archive(
        ArchiveName=plane.stack.output("EventArchiveName")
    )
    return Archive(
        described["ArchiveName"],
        described["ArchiveArn"],
        described["EventSourceArn"],
        int(described.get("RetentionDays") or 0),
        described.get("CreationTime"),
    )


def check_window(
    kept: Archive, start: datetime, end: datetime, now: datetime
) -> tuple[datetime, list[str]]:
    """The window's end (not later than now) and warnings; Refused if the window is empty or
    reaches before what the archive still keeps."""
    if end > now:
        end = now
    if end <= start:
        raise Refused(f"empty window: --to ({end.isoformat()}) is not after --from")
    if kept.retention_days and start < now - timedelta(days=kept.retention_days):
        oldest = (now - timedelta(days=kept.retention_days)).isoformat(timespec="seconds")
        raise Refused(
            f"--from {start.isoformat(timespec='seconds')} is outside the archive's retention "
            f"({kept.retention_days} days: nothing older than {oldest} is kept)"
        )
    warnings = []
    if end > now - ARCHIVE_LAG:
        warnings.append(
            "AWS may archive events up to about 10 minutes late: events of the window's last "
            "10 minutes may not be replayed yet"
        )
    if kept.created and start < kept.created:
        warnings.append(
            f"the archive was created {kept.created.isoformat(timespec='seconds')}: "
            "nothing before that was archived"
        )
    return end, warnings


def start_replay(
    plane: ControlPlane, kept: Archive, start: datetime, end: datetime, keys: list[str]
) -> str:
    name = f"mlops-{start:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    plane.client("events").start_replay(
        ReplayName=name,
        Description=f"mlops replay of {', '.join(keys)} by {plane.identity}"[:512],
        EventSourceArn=kept.arn,
        EventStartTime=start,
        EventEndTime=end,
        Destination={"Arn": kept.bus_arn, "FilterArns": plane.rule_arns(keys)},
    )
    return name


def describe_replay(plane: ControlPlane, name: str) -> dict[str, Any]:
    return plane.client("events").describe_replay(ReplayName=name)


def replayed_runs(
    plane: ControlPlane, name: str, keys: list[str], since: datetime, checked: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Executions of the given workflows a replay started: their input is the event, which
    carries the replay's name (`replay-name`); a transformed input (a retrain request) does
    not, nor does a run of uploads (RecordUpload records the replayed upload and starts a run
    only for one not yet handled), so one started since the replay counts. `checked` keeps the
    executions already read across calls."""
    found = []
    for key in keys:
        listed = plane.sfn.list_executions(
            stateMachineArn=plane.workflows[key].arn, maxResults=100
        )["executions"]
        for summary in listed:
            if summary["startDate"] < since - CLOCK_SKEW:
                break  # newest first
            if summary["executionArn"] in checked:
                continue
            checked.add(summary["executionArn"])
            described = plane.sfn.describe_execution(executionArn=summary["executionArn"])
            document = _json(described.get("input"))
            if not isinstance(document, dict):
                continue
            if document.get("replay-name") == name or (
                ("retrain" in document or "burst" in document) and summary["startDate"] >= since
            ):
                found.append((key, summary))
    return found


def window_contents(
    plane: ControlPlane, start: datetime, end: datetime, keys: list[str]
) -> list[dict[str, Any]]:
    """What the window holds as far as the execution history and the ledger tell: each
    execution of the chosen workflows started in it by an event, what that event was, how the
    execution ended, and what replaying it would meet."""
    found = []
    for key in keys:
        arn = plane.workflows[key].arn
        pages = plane.sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for summary in (s for page in pages for s in page["executions"]):
            if summary["startDate"] < start:
                break  # newest first
            if summary["startDate"] > end:
                continue
            described = plane.sfn.describe_execution(executionArn=summary["executionArn"])
            document = _json(described.get("input"))
            if not _from_an_event(document):
                continue  # started by StartExecution (an operator's rollback): not archived
            found.append(
                {
                    "started": summary["startDate"].isoformat(),
                    "workflow": key,
                    "execution": summary["name"],
                    "status": summary["status"],
                    "error": described.get("error"),
                    "event": describe_event(document),
                    "replay": _would_meet(plane, key, document),
                }
            )
    return sorted(found, key=lambda entry: entry["started"])


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return None


def _from_an_event(document: Any) -> bool:
    return isinstance(document, dict) and (
        "detail-type" in document or "retrain" in document or "burst" in document
    )


def describe_event(document: dict[str, Any]) -> str:
    """One line naming an event: its source and type, and what it is about."""
    if "retrain" in document:  # the TrainingPipeline input a Retrain Requested event became
        return f"retrain request {_retrain(document['retrain'])}"
    if "burst" in document:  # a run RecordUpload or a schedule started for uploads
        burst = document["burst"] if isinstance(document["burst"], dict) else {}
        upload = burst.get("upload") or {}
        if upload:
            return f"aws.s3 Object Created s3://{burst.get('bucket')}/{upload.get('key')}"
        return (
            f"aws.s3 Object Created under s3://{burst.get('bucket')}/{burst.get('prefix')} "
            "(a burst: its newest upload)"
        )
    detail = document.get("detail") or {}
    head = f"{document.get('source')} {document.get('detail-type')}"
    if document.get("source") == "aws.s3":
        return f"{head} s3://{(detail.get('bucket') or {}).get('name')}/" + str(
            (detail.get("object") or {}).get("key")
        )
    if document.get("source") == "aws.sagemaker":
        return f"{head} v{detail.get('ModelPackageVersion')} {detail.get('ModelApprovalStatus')}"
    if document.get("source") == "aws.cloudwatch":
        return f"{head} {detail.get('alarmName')} {(detail.get('state') or {}).get('value')}"
    if (document.get("source"), document.get("detail-type")) == (SOURCE, DETAIL_TYPE):
        return f"{head} {_retrain(detail)}"
    return head


def _retrain(request: dict[str, Any]) -> str:
    dataset = request.get("dataset")
    if isinstance(dataset, dict):
        dataset = f"s3://{dataset.get('bucket')}/{dataset.get('key')}"
    what = dataset
    return f"{what} by {request.get('requested_by')}"


def _would_meet(plane: ControlPlane, key: str, document: dict[str, Any]) -> str:
    if key == "training" and document.get("source") == "aws.s3":
        obj = (document.get("detail") or {}).get("object") or {}
        dataset = dataset_version(
            (document["detail"].get("bucket") or {}).get("name", ""),
            obj.get("key", ""),
            obj.get("version-id"),
            str(obj.get("etag", "")),
        )
        item = plane.ledger_table.get_item(Key={"pk": dataset.business_key, "sk": "run"}).get(
            "Item"
        )
        if item is None:
            return "not in the ledger: trains"
        if item.get("status") in RECLAIMABLE:
            return f"last run {item.get('run_id')} {item.get('status')}: trains again"
        return f"AlreadyHandled: run {item.get('run_id')} ({item.get('status')})"
    burst = document.get("burst") if isinstance(document.get("burst"), dict) else None
    if key == "training" and burst and isinstance(burst.get("upload"), dict):
        upload = burst["upload"]
        business_key = f"dataset#s3://{burst.get('bucket')}/{upload.get('key')}#" + str(
            upload.get("version")
        )
        item = plane.ledger_table.get_item(Key={"pk": business_key, "sk": "run"}).get("Item")
        if item is not None and item.get("status") not in RECLAIMABLE:
            return f"starts nothing: run {item.get('run_id')} ({item.get('status')}) handled it"
        return "RecordUpload starts a run for it"
    if key == "training" and burst is not None:
        return "each upload is recorded again: a trained or superseded one starts nothing"
    if key == "training":
        return "AlreadyHandled: a replayed request keeps its request id"
    if key == "deploy":
        return "deploys only if the version is still approved and not live"
    return "rolls back only if the endpoint still serves the version the event names"
