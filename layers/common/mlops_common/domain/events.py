"""Parsing of the events that start workflows, with named errors for malformed ones."""

from typing import Any

from pydantic import ValidationError

from ..errors import EventMalformed
from ..models import ModelPackageStateChangeEvent


def parse_s3_object_created(event: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """(bucket, key, version id, etag) of an `aws.s3` `Object Created` EventBridge event."""
    # Imported on first use: its 16 S3 event models cost ~20 ms to build, which functions that
    # never receive an S3 event would otherwise pay at every cold start.
    from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

    try:
        parsed = S3EventNotificationEventBridgeModel.model_validate(event)
    except ValidationError as exc:
        raise EventMalformed(f"not an S3 Object Created event: {_first_error(exc)}") from exc
    if parsed.source != "aws.s3" or parsed.detail_type != "Object Created":
        raise EventMalformed(f"unexpected {parsed.source} / {parsed.detail_type} event")
    obj = parsed.detail.object
    version = obj.version_id if obj.version_id not in (None, "null") else None
    return parsed.detail.bucket.name, obj.key, version, obj.etag


def parse_model_package_change(event: dict[str, Any]) -> ModelPackageStateChangeEvent:
    try:
        parsed = ModelPackageStateChangeEvent.model_validate(event)
    except ValidationError as exc:
        raise EventMalformed(f"not a Model Package State Change: {_first_error(exc)}") from exc
    if parsed.source != "aws.sagemaker":
        raise EventMalformed(f"unexpected source {parsed.source}")
    return parsed


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
