"""The twin: the project's AWS account, offline. moto served on 127.0.0.1 behind a gateway,
with the project's seams adding what moto lacks, laid out by AWS service:

    cloud.py          LocalCloud: moto + gateway + every seam, started and stopped as one
    gateway.py        the WSGI front door: which operations the twin serves, which moto does
    door.py           what the front door refuses: web pages, foreign Host names
    seam.py           the one contract every seam follows (install / uninstall), Patch
    stack.py          the project's stack in the twin: start_stack(), TwinStack
    aws/              ARNs, S3 URIs, timestamps, responses and error documents (all services)
    cloudformation/   template.yaml read and provisioned
    lambda_/          the Lambda runtime and its worker processes
    events/           EventBridge delivery, input transformation, AWS events, replay, PutEvents
    scheduler/        EventBridge Scheduler: schedules fired to their targets
    stepfunctions/    ASL interpreter patches, JSONPath, SageMaker task integrations, history
    sagemaker/        registry, state-change events, jobs/, hosting/
    s3/               S3 events to EventBridge, bucket-policy conditions
    cloudwatch/       alarm evaluation and history, metrics publishing

Each service package's `api.py` connects its operations to the gateway. The demo that tells
stories on this cloud is mlops/demo, outside it.

`LocalCloud`, `start_stack`, `TwinStack`, `TIME_SCALE` and `RESTART_NOTICE` are importable
from here; they load on first use, so `python -m mlops.twin.lambda_.worker` and the model
servers start without importing moto.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops.twin.cloud import TIME_SCALE, LocalCloud
    from mlops.twin.stack import RESTART_NOTICE, TwinStack, start_stack

_EXPORTS = {
    "LocalCloud": "mlops.twin.cloud",
    "TIME_SCALE": "mlops.twin.cloud",
    "RESTART_NOTICE": "mlops.twin.stack",
    "TwinStack": "mlops.twin.stack",
    "start_stack": "mlops.twin.stack",
}
__all__ = ["LocalCloud", "RESTART_NOTICE", "TIME_SCALE", "TwinStack", "start_stack"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
