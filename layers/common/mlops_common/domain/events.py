"""Parsing of the events that start workflows, with named errors for malformed ones."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import EventMalformed
from ..models import BurstStart, DatasetUpload, ModelPackageStateChangeEvent, RetrainRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel


def _s3_event_model() -> type[S3EventNotificationEventBridgeModel]:
    # Imported on first use: its 16 S3 event models cost ~20 ms to build, which functions that
    # never receive an S3 event would otherwise pay at every cold start.
    from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

    return S3EventNotificationEventBridgeModel


def parse_training_start(event: Any) -> DatasetUpload | RetrainRequest | BurstStart:
    """What a TrainingPipeline execution input asks for (design decision D1): an S3 `Object
    Created` event, `{"retrain": <request>}`, or `{"burst": <the prefix>}` (coalesced uploads).
    Dispatch is on the shape, so a new kind of input adds a branch here (and in
    `training_start_of`)."""
    if isinstance(event, dict) and "burst" in event:
        if set(event) != {"burst"}:
            raise EventMalformed(f"a burst input has only the key 'burst', got {sorted(event)}")
        try:
            return BurstStart.model_validate(event["burst"])
        except ValidationError as exc:
            raise EventMalformed(f"not a valid burst input: {_first_error(exc, 'burst')}") from exc
    if isinstance(event, dict) and "retrain" in event:
        if set(event) != {"retrain"}:
            raise EventMalformed(
                f"a retrain request has only the key 'retrain', got {sorted(event)}"
            )
        try:
            return RetrainRequest.model_validate(event["retrain"])
        except ValidationError as exc:
            problem = _first_error(exc, "retrain").replace(".DatasetLocation.", ".")
            dataset = event["retrain"].get("dataset") if isinstance(event["retrain"], dict) else 0
            if problem.startswith("retrain.dataset.") and not isinstance(dataset, dict):
                problem = (
                    f'retrain.dataset: "latest" or {{bucket, key, version_id}}, got {dataset!r}'
                )
            raise EventMalformed(f"not a valid retrain request: {problem}") from exc
    return parse_s3_upload(event)


def training_start_of(event: Any) -> DatasetUpload | RetrainRequest | BurstStart | None:
    """What `parse_training_start` reads, or None where it would raise: for reporting on an
    execution whose input may be anything (a failure notification names what it can)."""
    if isinstance(event, dict) and set(event) == {"burst"}:
        try:
            return BurstStart.model_validate(event["burst"])
        except ValidationError:
            return None
    if isinstance(event, dict) and set(event) == {"retrain"}:
        try:
            return RetrainRequest.model_validate(event["retrain"])
        except ValidationError:
            return None
    try:
        parsed = _s3_event_model().model_validate(event)
    except ValidationError:
        return None
    return _upload(parsed) if _is_object_created(parsed) else None


def parse_s3_upload(event: Any) -> DatasetUpload:
    """The object an `aws.s3` `Object Created` EventBridge event names ("Amazon S3 events
    delivered to EventBridge", Amazon S3 user guide: ev-events.html)."""
    try:
        parsed = _s3_event_model().model_validate(event)
    except ValidationError as exc:
        raise EventMalformed(f"not an S3 Object Created event: {_first_error(exc)}") from exc
    if not _is_object_created(parsed):
        raise EventMalformed(f"unexpected {parsed.source} / {parsed.detail_type} event")
    return _upload(parsed)


def _is_object_created(parsed: S3EventNotificationEventBridgeModel) -> bool:
    return parsed.source == "aws.s3" and parsed.detail_type == "Object Created"


def _upload(parsed: S3EventNotificationEventBridgeModel) -> DatasetUpload:
    obj = parsed.detail.object
    return DatasetUpload(
        bucket=parsed.detail.bucket.name,
        key=obj.key,
        # An unversioned bucket sends no version-id, or the string "null".
        version_id=obj.version_id if obj.version_id not in (None, "null") else None,
        etag=obj.etag,
        size=None if obj.size is None else int(obj.size),
        requester=parsed.detail.requester,
        sequencer=obj.sequencer,
        event_time=parsed.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        event_id=parsed.id,
        replay_name=parsed.replay_name,
    )


def parse_model_package_change(event: dict[str, Any]) -> ModelPackageStateChangeEvent:
    try:
        parsed = ModelPackageStateChangeEvent.model_validate(event)
    except ValidationError as exc:
        raise EventMalformed(f"not a Model Package State Change: {_first_error(exc)}") from exc
    if parsed.source != "aws.sagemaker":
        raise EventMalformed(f"unexpected source {parsed.source}")
    return parsed


def _first_error(exc: ValidationError, *root: str) -> str:
    err = exc.errors()[0]
    return f"{'.'.join([*root, *(str(p) for p in err['loc'])])}: {err['msg']}"
