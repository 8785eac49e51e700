"""Retrain on request: the TrainingPipeline's documented second input (README, "Operating it").

The request goes on the stack's bus as a `Retrain Requested` event (source
`mlops.control-plane`), so the archive keeps it and a replay re-sends it; its rule hands the
pipeline `{"retrain": <detail>}`. Without `force`, a dataset version the ledger shows as
handled is refused here, before anything is sent, naming the run that handled it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from botocore.exceptions import ClientError

from mlops.control.errors import Failed, NotFound, Refused
from mlops.control.plane import ControlPlane

SOURCE = "mlops.control-plane"
DETAIL_TYPE = "Retrain Requested"
RECLAIMABLE = {"FAILED", "REJECTED"}  # a run that ended so may run again without force


def dataset_version(bucket: str, key: str, version_id: str | None, etag: str) -> Any:
    """The layer's DatasetRef of one object version: its `uri` and `business_key` (the ledger
    key of a first run, `dataset#<uri>#<version or etag>`) are the workflows' own. Built
    without the figures validation adds (size, rows, features), which nothing here reads."""
    from mlops_common.models import DatasetRef

    return DatasetRef.model_construct(bucket=bucket, key=key, version_id=version_id, etag=etag)


def to_request(dataset: Any) -> dict[str, Any]:
    """A dataset version as the retrain input names it."""
    return {"bucket": dataset.bucket, "key": dataset.key, "version_id": dataset.version_id}


def resolve_dataset(plane: ControlPlane, uri: str, version_id: str | None) -> Any:
    """An object under the stack's data prefix, at `version_id` (also `?versionId=` in the
    URI) or its current version."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise Refused(f"{uri} is not an s3://bucket/key URI")
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    version_id = version_id or (parse_qs(parsed.query).get("versionId") or [None])[0]
    data_bucket, prefix = plane.stack.output("DataBucketName"), plane.stack.output("DataPrefix")
    if bucket != data_bucket or not key.startswith(prefix):
        raise Refused(
            f"{uri} is outside this stack's data location s3://{data_bucket}/{prefix}: "
            "the TrainingPipeline trains only what is there"
        )
    try:
        head = plane.client("s3").head_object(
            Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {})
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchVersion", "400"):
            version = f" version {version_id}" if version_id else ""
            raise NotFound(f"no such dataset: {uri}{version}") from exc
        raise
    found = head.get("VersionId")
    etag = head["ETag"].strip('"')
    return dataset_version(bucket, key, None if found in (None, "null") else found, etag)


def handled(plane: ControlPlane, dataset: Any) -> dict[str, Any] | None:
    """The ledger's run of this version, unless it ended so that it may run again."""
    item = plane.ledger_table.get_item(
        Key={"pk": dataset.business_key, "sk": "run"}, ConsistentRead=True
    ).get("Item")
    return item if item and item.get("status") not in RECLAIMABLE else None


def latest_handled(plane: ControlPlane) -> dict[str, Any] | None:
    """ "latest" is the newest dataset version this stack trained or tried to train (the
    ledger's newest dataset run); it counts as handled unless that run may run again."""
    from boto3.dynamodb.conditions import Attr, Key

    request: dict[str, Any] = {
        "FilterExpression": Key("pk").begins_with("dataset#") & Attr("sk").eq("run")
    }
    newest: dict[str, Any] | None = None
    while True:
        page = plane.ledger_table.scan(**request)
        for item in page["Items"]:
            if newest is None or str(item.get("started_at")) > str(newest.get("started_at")):
                newest = item
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return newest if newest and newest.get("status") not in RECLAIMABLE else None


def refusal(item: dict[str, Any]) -> str:
    """`dataset#<uri>#<version or etag>` named as the operator typed it."""
    uri, _, version = str(item["pk"]).removeprefix("dataset#").rpartition("#")
    return (
        f"{uri} version {version} was already handled by run {item.get('run_id')} "
        f"({item.get('status')}); pass --force to train it again"
    )


def retrain_request(
    dataset: Any | None,
    reason: str,
    requested_by: str,
    force: bool,
    code_version: str | None = None,
) -> dict[str, Any]:
    """The request body (`{"retrain": ...}`); dataset None means "latest"."""
    if not reason.strip():
        raise Refused("a retrain needs a reason (--reason)")
    return {
        "retrain": {
            "dataset": "latest" if dataset is None else to_request(dataset),
            "reason": reason,
            "requested_by": requested_by,
            "force": force,
            "request_id": str(uuid.uuid4()),
            "code_version": code_version,
        }
    }


def check_rule(plane: ControlPlane, request: dict[str, Any]) -> None:
    """Fails at once, before anything is sent, when no TrainingPipeline rule would start a run
    for the request (a stack deployed before retrain requests existed), instead of letting the
    operator wait for a run that never starts. EventBridge's TestEventPattern decides, as the
    bus would."""
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": plane.account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": plane.aws.region,
        "resources": [],
        "detail": request["retrain"],
    }
    events = plane.client("events")
    for rule in plane.rules(["training"]):
        pattern = rule.get("EventPattern")
        if (
            pattern
            and events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"]
        ):
            return
    raise Failed(
        f"no rule of stack {plane.stack.name} starts the TrainingPipeline on a "
        f"{DETAIL_TYPE} event: the stack predates retrain requests; deploy the current template"
    )


def put_request(plane: ControlPlane, request: dict[str, Any]) -> str:
    """Puts the request on the stack's bus; returns the event id."""
    answer = plane.client("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(request["retrain"]),
                "EventBusName": plane.stack.output("EventBusName"),
            }
        ]
    )
    (entry,) = answer["Entries"]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise Failed(f"PutEvents refused the request: {entry.get('ErrorCode')}: {entry}")
    return entry["EventId"]


def is_request(request_id: str):
    """Matches the TrainingPipeline input the request became."""

    def match(document: Any) -> bool:
        retrain = document.get("retrain") if isinstance(document, dict) else None
        return isinstance(retrain, dict) and retrain.get("request_id") == request_id

    return match
