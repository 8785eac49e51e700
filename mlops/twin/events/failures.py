"""Why a delivery to an EventBridge target failed, as the dead-letter queue reports it
(EventBridge user guide, eb-rule-dlq: the ERROR_CODE values and which errors are retried)."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ExecutionLimitExceeded",
}


class DeliveryError(Exception):
    """A failed target call, with the DLQ ERROR_CODE and whether EventBridge would retry it."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable


def classify(exc: Exception) -> DeliveryError:
    """Map a target failure to a DLQ ERROR_CODE and retryability (eb-rule-dlq: missing
    permissions or a target that no longer exists are not retried; throttling, 5xx and network
    faults are). Other 4xx are not retried either (inferred: they would fail the same way)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        message = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in _THROTTLING or status == 429:
            return DeliveryError("THROTTLING", message, True)
        if status >= 500:
            return DeliveryError("SDK_CLIENT_ERROR", message, True)
        if "NotFound" in code or "DoesNotExist" in code or status == 404:
            return DeliveryError("NO_RESOURCE", message, False)
        if "AccessDenied" in code or "NotAuthorized" in code or status == 403:
            return DeliveryError("NO_PERMISSIONS", message, False)
        if code in ("InvalidExecutionInput", "InvalidRequestContentException"):
            return DeliveryError("INVALID_JSON", message, False)
        return DeliveryError("INVALID_PARAMETER", message, False)
    if isinstance(exc, HTTPClientError | BotoConnectionError | ConnectionError | TimeoutError):
        return DeliveryError("CONNECTION_FAILURE", repr(exc), True)
    return DeliveryError("INTERNAL_ERROR", repr(exc), False)  # a twin bug: fail fast, loudly


SHUT_DOWN = DeliveryError("INTERNAL_ERROR", "twin event delivery shut down", False)
