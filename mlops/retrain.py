"""Building a retrain request: the documented way to train again (README, "Operating it").

One request, two ways in (design decision D1):

    request = retrain_request("s3://data-bucket/datasets/a.csv", reason="new labels",
                              requested_by="alice", force=True, version_id="3HL4kq...")
    sfn.start_execution(stateMachineArn=training_pipeline_arn, input=json.dumps(request))
    events.put_events(Entries=[retrain_event(request, event_bus_name)])

The TrainingPipeline validates the same shape (mlops_common.models.RetrainRequest, in the
Lambda layer); this module does not import the layer, so the operator CLI stays independent of
it, and tests/unit/test_retrain_request.py keeps the two in step.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

#: The stack bus rule TrainingPipelineRetrainRequested matches these.
SOURCE = "mlops.control-plane"
DETAIL_TYPE = "Retrain Requested"
LATEST = "latest"
_CODE_VERSION = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")


def retrain_request(
    dataset: str,
    reason: str,
    requested_by: str,
    force: bool = False,
    *,
    version_id: str | None = None,
    request_id: str | None = None,
    code_version: str | None = None,
) -> dict[str, Any]:
    """The TrainingPipeline execution input `{"retrain": {...}}`.

    `dataset`: "latest" (the newest version the stack trained or tried to train, else the
    newest object under its data prefix), or an `s3://bucket/key` URI under the data prefix;
    `version_id` pins a version of it (without one the run pins the version current when it
    starts). `force`: train even if that version was handled, as a new attempt. `request_id`
    identifies the request (a new UUID by default); send it again to replay the same request,
    which then ends AlreadyHandled. `code_version`: a published ml/ version to train with.
    Raises ValueError naming what is wrong.
    """
    if not reason or not reason.strip():
        raise ValueError("a retrain request needs a reason")
    if not requested_by or not requested_by.strip():
        raise ValueError("a retrain request needs requested_by (who asks)")
    if code_version is not None and not _CODE_VERSION.fullmatch(code_version):
        raise ValueError(f"code_version {code_version!r} is not a valid code version")
    if dataset == LATEST:
        if version_id is not None:
            raise ValueError('"latest" names no version; give an S3 URI with version_id')
        target: Any = LATEST
    else:
        bucket, key = _split(dataset)
        target = {"bucket": bucket, "key": key} | ({"version_id": version_id} if version_id else {})
    request = {
        "dataset": target,
        "reason": reason.strip(),
        "requested_by": requested_by.strip(),
        "force": bool(force),
        "request_id": request_id or str(uuid.uuid4()),
    }
    if code_version is not None:
        request["code_version"] = code_version
    return {"retrain": request}


def retrain_event(request: dict[str, Any], event_bus_name: str) -> dict[str, Any]:
    """A PutEvents entry carrying `request` to the stack bus, where the rule
    TrainingPipelineRetrainRequested starts the TrainingPipeline with `{"retrain": detail}`."""
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(request["retrain"]),
        "EventBusName": event_bus_name,
    }


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f'dataset must be "latest" or an s3://bucket/key URI, got {uri!r}')
    bucket, _, key = uri[5:].partition("/")
    if not 3 <= len(bucket) <= 63 or not key or key.endswith("/"):
        raise ValueError(f"{uri} does not name an object")
    return bucket, key
