"""DescribeExecution and GetExecutionHistory answered as the Step Functions API reference says.

moto 5.2.5 (moto/stepfunctions/responses.py):
- GetExecutionHistory ignores `reverseOrder`, `maxResults`, `nextToken` and
  `includeExecutionData`: every event, oldest first, in one page. AWS pages it (maxResults:
  default 100, at most 1000, 0 means the default) with an opaque nextToken, newest first when
  reverseOrder is true, and leaves the events' input and output out when includeExecutionData
  is false.
- DescribeExecution has no `inputDetails` (CloudWatchEventsExecutionDataDetails: `included`,
  whether the input is in the answer); moto gives `outputDetails` only with the output, as AWS.

The token here is the offset of the next page in the chosen order, base64-wrapped so that
clients treat it as opaque; a token that does not decode is InvalidToken, as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from typing import Any

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.responses import StepFunctionResponse

from mlops.twin.seam import Patch, PatchSeam

DEFAULT_PAGE, MAX_PAGE = 100, 1000


class InvalidToken(AWSError):
    TYPE = "InvalidToken"


_DATA_KEYS = ("input", "output", "inputDetails", "outputDetails")


class ExecutionsSeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        describe = StepFunctionResponse.describe_execution
        history = StepFunctionResponse.get_execution_history

        @functools.wraps(describe)
        def describe_execution(response: StepFunctionResponse) -> ActionResult:
            answer = dict(_result(describe(response)))
            answer["inputDetails"] = {"included": True}
            return ActionResult(answer)

        @functools.wraps(history)
        def get_execution_history(response: StepFunctionResponse) -> ActionResult:
            events = list(_result(history(response))["events"])
            return ActionResult(page_of_history(events, response._get_param))

        return [
            Patch(StepFunctionResponse, "describe_execution", describe_execution),
            Patch(StepFunctionResponse, "get_execution_history", get_execution_history),
        ]


def _result(action: ActionResult) -> Any:
    return action.result


def page_of_history(events: list[dict[str, Any]], param: Any) -> dict[str, Any]:
    """One page of `events` (oldest first, as moto keeps them) for the request's parameters."""
    if param("reverseOrder"):
        events = events[::-1]
    if param("includeExecutionData") is False:
        events = [_without_data(event) for event in events]
    size = int(param("maxResults") or 0) or DEFAULT_PAGE
    size = min(size, MAX_PAGE)
    start = _offset(param("nextToken"))
    out: dict[str, Any] = {"events": events[start : start + size]}
    if start + size < len(events):
        out["nextToken"] = base64.urlsafe_b64encode(f"twin:{start + size}".encode()).decode()
    return out


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "twin" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidToken(f"Invalid Token: '{token}'")


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            out[key] = {k: v for k, v in details.items() if k not in _DATA_KEYS}
    return out
