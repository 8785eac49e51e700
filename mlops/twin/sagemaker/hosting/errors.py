"""Errors the hosting seam raises; the gateway turns each into the AWS error document.

Control-plane errors (sagemaker, awsJson1_1) use `ValidationException`; the runtime
(sagemaker-runtime, restJson1) names its shapes `ValidationError` and `ModelError`
(botocore sagemaker-runtime service-2.json: ModelError is HTTP 424 with members
OriginalStatusCode, OriginalMessage, LogStreamArn; ServiceUnavailable is HTTP 503).
"""

from __future__ import annotations

from typing import Any

from mlops.twin.aws.arns import arn
from mlops.twin.aws.responses import AwsError


class HostingError(AwsError):
    """A control-plane error: `ValidationException` with the text AWS would return."""


class RuntimeValidationError(HostingError):
    """sagemaker-runtime's `ValidationError` (e.g. unknown endpoint or target variant)."""

    code = "ValidationError"


class ServiceUnavailable(HostingError):
    """sagemaker-runtime's `ServiceUnavailable` (503): no healthy instance can take the request
    (its model server died and is being replaced; healing.py)."""

    code = "ServiceUnavailable"
    status = 503


def no_healthy_instance(endpoint: str, variant: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The service is unavailable. Try your call again. (twin: variant {variant} of "
        f"endpoint {endpoint} has no healthy instance; its model server is being replaced)"
    )


class ModelError(HostingError):
    """The container answered 4xx/5xx; sagemaker-runtime wraps it as ModelError (424)."""

    code = "ModelError"
    status = 424

    def __init__(
        self, message: str, original_status_code: int, original_message: str, log_stream_arn: str
    ) -> None:
        super().__init__(message)
        self.original_status_code = original_status_code
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn

    def members(self) -> dict[str, Any]:
        return {
            "OriginalStatusCode": self.original_status_code,
            "OriginalMessage": self.original_message,
            "LogStreamArn": self.log_stream_arn,
        }


def model_error(
    status: int, body: bytes, endpoint_name: str, account: str, region: str
) -> ModelError:
    """Build the ModelError the real runtime returns for a container error response.

    Wording as seen in real responses ("Received client error (400) from primary with
    message ...  See https://...#logEventViewer:group=/aws/sagemaker/Endpoints/<name> in
    account <id> for more information.").
    """
    text = body.decode("utf-8", errors="replace")
    kind = "client" if 400 <= status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group}"
    )
    message = (
        f'Received {kind} error ({status}) from primary with message "{text}". '
        f"See {console} in account {account} for more information."
    )
    log_stream_arn = arn("logs", region, account, f"log-group:{group}")
    return ModelError(message, status, text, log_stream_arn)
