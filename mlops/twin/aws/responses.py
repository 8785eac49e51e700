"""What the twin answers on the wire for the operations it serves itself: JSON bodies, and
error documents botocore parses into the modelled exception (code from `__type` and the
X-Amzn-ErrorType header, text from `Message`, the error shape's members beside them)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

Response = tuple[int, dict[str, str], bytes]


class AwsError(Exception):
    """An AWS API error: `code` names the error shape, `message` is the text AWS returns,
    `status` the HTTP status. Subclasses fix a code and add their shape's members."""

    code = "ValidationException"
    status = 400

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def members(self) -> dict[str, Any]:
        """Modelled members of the error shape besides Message (none by default)."""
        return {}

    def document(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.members()}


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()  # the JSON protocols carry timestamps as epoch seconds
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, default=json_default).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


def error_response(error: AwsError) -> Response:
    status, headers, body = json_response(error.document(), error.status)
    return status, headers | {"X-Amzn-ErrorType": error.code}, body
