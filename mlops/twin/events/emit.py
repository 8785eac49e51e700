"""Events AWS services emit (aws.s3, aws.sagemaker, aws.cloudwatch), put on a bus in-process."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from moto.events import models as events_models

from mlops.twin.aws.timestamps import as_utc


def put_aws_event(
    account: str,
    region: str,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str],
    bus: str = "default",
    time: datetime | None = None,
) -> str:
    """Emit an AWS-service event (e.g. aws.sagemaker) through moto's EventsBackend.put_events,
    which builds the full envelope (version, id, detail-type, source, account, time, region,
    resources, detail). In-process: AWS services, unlike callers of PutEvents, may use aws.*."""
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": list(resources),
        "EventBusName": bus,
    }
    if time is not None:
        entry["Time"] = as_utc(time).timestamp()
    result = events_models.events_backends[account][region].put_events([entry])[0]
    if "ErrorCode" in result:
        raise ValueError(f"{result['ErrorCode']}: {result.get('ErrorMessage')}")
    return str(result["EventId"])
