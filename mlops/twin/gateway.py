"""The twin's front door: a WSGI layer in front of moto's server.

Most requests go to moto unchanged. Each service package of the twin registers here the
operations moto lacks or fakes (its `api.py`): by request path (Lambda Invoke, sagemaker-runtime
InvokeEndpoint), by X-Amz-Target to replace moto (SageMaker hosting), by X-Amz-Target to run
after moto answered (jobs that run, Model Registry events), or by the query protocol's `Action`
(CloudFormation's reads of the stacks the twin provisions). Everything is decided on the wire
protocol (path, X-Amz-Target, Action, signing scope), as a real client sends it.

Before any of that the door (door.py) refuses what does not come from a program on this
machine. Every answer the gateway builds itself carries an `x-amzn-RequestId` header, as every
AWS answer does (clients such as moto's Step Functions tasks read it from error answers too).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from mlops.twin import door
from mlops.twin.aws.responses import AwsError, Response, error_response, json_response

Handler = Callable[[dict[str, Any], bytes], Response]
PathHandler = Callable[[dict[str, Any], bytes, re.Match[str]], Response]
AfterHook = Callable[[dict[str, Any], dict[str, Any]], None]  # (request JSON, response JSON)
REQUEST_ID_HEADER = "x-amzn-RequestId"
# A query-protocol action: the request's parameters in, a response out, or None to let moto answer.
ActionHandler = Callable[[dict[str, str]], Response | None]
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class _PathRoute:
    service: str  # the signing name, e.g. "lambda"; sagemaker-runtime signs as "sagemaker"
    method: str | None
    pattern: re.Pattern[str]
    handler: PathHandler


class Gateway:
    def __init__(self, moto_app: Callable) -> None:
        self._moto = moto_app
        self._paths: list[_PathRoute] = []
        self._targets: dict[str, Handler] = {}
        self._after: dict[str, AfterHook] = {}
        self._actions: dict[tuple[str, str], ActionHandler] = {}

    # -- registration ----------------------------------------------------------------------
    def route_path(
        self, service: str, pattern: str, handler: PathHandler, method: str | None = None
    ) -> None:
        """Serve requests signed for `service` whose path matches `pattern` (REST APIs)."""
        self._paths.append(_PathRoute(service, method, re.compile(pattern), handler))

    def route_target(self, target: str, handler: Handler) -> None:
        """Serve X-Amz-Target `target` (e.g. "SageMaker.CreateEndpoint") instead of moto."""
        self._targets[target] = handler

    def route_action(self, service: str, action: str, handler: ActionHandler) -> None:
        """Serve query-protocol `Action=action` of requests signed for `service` (e.g.
        cloudformation DescribeStacks); a handler that returns None leaves the request to moto."""
        self._actions[(service, action)] = handler

    def after_target(self, target: str, hook: AfterHook) -> None:
        """Run `hook(request, response)` after moto answered `target` with a 2xx."""
        self._after[target] = hook

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        body = _read_body(environ)
        refused = door.refusal(environ)
        if refused is not None:
            return _send(start_response, *error_response(refused))
        path = environ.get("PATH_INFO", "")
        service = _signing_service(environ)
        try:
            method = environ["REQUEST_METHOD"]
            for route in self._paths:
                if route.service != service or route.method not in (None, method):
                    continue
                match = route.pattern.match(path)
                if match:
                    return _send(start_response, *route.handler(environ, body, match))
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target in self._targets:
                return _send(start_response, *self._targets[target](environ, body))
            if target in self._after:
                return self._moto_then(target, environ, body, start_response)
            if self._actions:
                params = _query_params(environ, body)
                handler = self._actions.get((service, params.get("Action", "")))
                answer = handler(params) if handler else None
                if answer is not None:
                    return _send(start_response, *answer)
        except AwsError as exc:
            return _send(start_response, *error_response(exc))
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
            self._after[target](json.loads(body or b"{}"), json.loads(chunks or b"{}"))
        start_response(captured["status"], captured["headers"])
        return [chunks]


def json_operation(call: Callable[[dict[str, Any]], Any]) -> Handler:
    """An awsJson operation served by `call(request) -> response`; AwsError is its error."""

    def handler(environ: dict[str, Any], body: bytes) -> Response:
        try:
            return json_response(call(json.loads(body or b"{}")))
        except AwsError as exc:
            return error_response(exc)

    return handler


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's HTTP headers, lower-case names."""
    return {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    } | {"content-type": environ.get("CONTENT_TYPE", "")}


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


def _query_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    """The parameters of a query-protocol request: the form body of a POST, else the query
    string (first value of each name)."""
    content_type = environ.get("CONTENT_TYPE", "")
    text = (
        body.decode("utf-8", "replace")
        if content_type.startswith("application/x-www-form-urlencoded")
        else environ.get("QUERY_STRING", "")
    )
    return {name: values[0] for name, values in parse_qs(text).items()}


def _signing_service(environ: dict[str, Any]) -> str:
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(2) if match else ""


def _send(
    start_response: Callable, status: int, headers: dict[str, str], body: bytes
) -> list[bytes]:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # a status the standard library does not name
        reason = "Status"
    extra = [("Content-Length", str(len(body)))]
    if not any(name.lower() == REQUEST_ID_HEADER.lower() for name in headers):
        extra.append((REQUEST_ID_HEADER, str(uuid.uuid4())))
    start_response(f"{status} {reason}", list(headers.items()) + extra)
    return [body]
