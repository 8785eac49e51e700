"""The twin's front door: a WSGI layer in front of moto's server.

Most requests go to moto unchanged. The operations moto lacks or fakes are routed to the
twin's seams: Lambda Invoke (real handlers), SageMaker hosting and runtime (real model
servers), and the side effects AWS has but moto does not (training/processing jobs that run,
Model Registry events). Everything is decided on the wire protocol (path, X-Amz-Target,
signing scope), as a real client sends it.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

Handler = Callable[[dict[str, Any], bytes], tuple[int, dict[str, str], bytes]]
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
_RUNTIME_INVOKE = re.compile(r"^/endpoints/([^/]+)/invocations/?$")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")


class AwsError(Exception):
    """An error answered in the AWS JSON protocol shape."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()  # the JSON protocols carry timestamps as epoch seconds
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(payload, default=json_default).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


class Gateway:
    def __init__(self, moto_app: Callable) -> None:
        self._moto = moto_app
        self.lambda_invoke: (
            Callable[[str, bytes, dict[str, str]], tuple[int, dict, bytes]] | None
        ) = None
        self.runtime_invoke: Handler | None = None
        # X-Amz-Target ("SageMaker.CreateEndpoint") -> handler that replaces moto
        self.targets: dict[str, Handler] = {}
        # X-Amz-Target -> hook run after moto answered 2xx: hook(request_json, response_json)
        self.after: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        body = _read_body(environ)
        path = environ.get("PATH_INFO", "")
        service = _signing_service(environ)
        try:
            if service == "lambda" and environ["REQUEST_METHOD"] == "POST" and self.lambda_invoke:
                match = _LAMBDA_INVOKE.match(path)
                if match:
                    headers = _headers(environ)
                    return _send(start_response, *self.lambda_invoke(match.group(1), body, headers))
            if service == "sagemaker" and self.runtime_invoke:
                match = _RUNTIME_INVOKE.match(path)
                if match:
                    environ["twin.endpoint"] = match.group(1)
                    return _send(start_response, *self.runtime_invoke(environ, body))
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target in self.targets:
                return _send(start_response, *self.targets[target](environ, body))
            if target in self.after:
                return self._moto_then(target, environ, body, start_response)
        except AwsError as exc:
            return _send(
                start_response,
                *json_response({"__type": exc.code, "message": exc.message}, exc.status),
            )
        return self._moto(environ, start_response)

    def _moto_then(
        self, target: str, environ: dict[str, Any], body: bytes, start_response: Callable
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = b"".join(self._moto(environ, capture))
        if captured["status"].startswith("2"):
            self.after[target](json.loads(body or b"{}"), json.loads(chunks or b"{}"))
        start_response(captured["status"], captured["headers"])
        return [chunks]


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
        body = stream.read()
    else:  # no body; reading to EOF would block on a kept-alive connection
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _signing_service(environ: dict[str, Any]) -> str:
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(2) if match else ""


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    return {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    } | {"content-type": environ.get("CONTENT_TYPE", "")}


_REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    415: "Unsupported Media Type",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _send(
    start_response: Callable, status: int, headers: dict[str, str], body: bytes
) -> list[bytes]:
    start_response(
        f"{status} {_REASONS.get(status, 'Status')}",
        list(headers.items()) + [("Content-Length", str(len(body)))],
    )
    return [body]


def lambda_log_header(log_tail: str) -> str:
    return base64.b64encode(log_tail.encode()[-4096:]).decode()
