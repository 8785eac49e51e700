"""What Lambda does with an asynchronous invocation (InvocationType Event) whose function fails
(Lambda developer guide, "Asynchronous invocation" and "Retaining records of asynchronous
invocations": a dead-letter queue): it retries the event twice, then, when the function has a
DeadLetterConfig, sends the event to that SQS queue as the message body, with the attributes
RequestID, ErrorCode (the invocation's status code) and ErrorMessage (at most 1 KB).

AWS waits about one minute before the first retry and two before the second; the twin waits
RETRY_DELAYS_S real seconds, enough for a worker to be replaced, short for tests.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from mlops.twin.lambda_.function import FunctionSpec, InvocationResult

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.5, 1.0)
#: (queue ARN, message body, attributes) -> None: sends one SQS message (the cloud wires it).
DeadLetterSender = Callable[[str, str, dict[str, str]], None]


def run_with_retries(
    spec: FunctionSpec,
    payload: str,
    run: Callable[[], InvocationResult],
    dead_letter: DeadLetterSender | None,
    sleep: Callable[[float], None] = time.sleep,
) -> InvocationResult:
    """Runs the event, again after each failure while retries remain; a last failure goes to
    the function's dead-letter queue, if it has one. The last result."""
    result = run()
    for delay in RETRY_DELAYS_S:
        if result.function_error is None:
            return result
        sleep(delay)
        result = run()
    if result.function_error is not None and spec.dead_letter_arn and dead_letter is not None:
        attributes = {
            "RequestID": result.request_id,
            "ErrorCode": str(result.status_code),
            "ErrorMessage": _message(result.payload)[:1024],
        }
        try:
            dead_letter(spec.dead_letter_arn, payload, attributes)
        except Exception:  # noqa: BLE001 - the queue itself failed: logged, as Lambda would
            log.exception("%s: dead-letter queue %s failed", spec.name, spec.dead_letter_arn)
    return result


def _message(payload: bytes) -> str:
    try:
        document = json.loads(payload or b"{}")
    except ValueError:
        return payload.decode(errors="replace")
    if isinstance(document, dict) and "errorMessage" in document:
        return f"{document.get('errorType')}: {document['errorMessage']}"
    return payload.decode(errors="replace")
