"""Lambda Invoke on the wire (Lambda API reference, Invoke): served by the twin's runtime
instead of moto, which runs handlers only in Docker."""

from __future__ import annotations

import base64
import re
from functools import partial
from typing import Any

from mlops.twin.aws.responses import AwsError, Response
from mlops.twin.gateway import Gateway, request_headers
from mlops.twin.lambda_.runtime import InvalidRequestContent, LambdaRuntime

_INVOKE = r"^/2015-03-31/functions/([^/]+)/invocations/?$"
LOG_RESULT_BYTES = 4096  # X-Amz-Log-Result: "the last 4 KB of the execution log"


def connect(gateway: Gateway, runtime: LambdaRuntime) -> None:
    gateway.route_path("lambda", _INVOKE, partial(_invoke, runtime), method="POST")


def _invoke(
    runtime: LambdaRuntime, environ: dict[str, Any], body: bytes, match: re.Match[str]
) -> Response:
    name, headers = match.group(1), request_headers(environ)
    if not runtime.has(name):
        raise AwsError(f"Function not found: {name}", "ResourceNotFoundException", 404)
    try:
        result = runtime.invoke(name, body, headers.get("x-amz-invocation-type", "RequestResponse"))
    except InvalidRequestContent as exc:
        raise AwsError(str(exc), "InvalidRequestContentException") from exc
    out = {
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "X-Amzn-Requestid": result.request_id,
    }
    if result.function_error:
        out["X-Amz-Function-Error"] = result.function_error
    if headers.get("x-amz-log-type") == "Tail":
        out["X-Amz-Log-Result"] = base64.b64encode(
            result.log_tail.encode()[-LOG_RESULT_BYTES:]
        ).decode()
    return result.status_code, out, result.payload
