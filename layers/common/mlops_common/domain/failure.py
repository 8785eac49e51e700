"""A caught error as one readable line: its name and the first line of what went wrong.

What a Catch stores at its ResultPath is `{"Error", "Cause"}` ("Handling errors in Step
Functions workflows", Step Functions developer guide). The Cause is text, and its shape depends
on who failed:
- a Lambda function error: the Lambda error document as JSON, `errorType`, `errorMessage` and a
  `stackTrace` ("Lambda function errors in Python", Lambda developer guide);
- a failed `.sync` SageMaker job: the job's Describe* output as JSON, with its `FailureReason`
  (a spot job Stopped with MaxWaitTimeExceeded has none: it is named SpotCapacityUnavailable);
- anything else (a States.* error, a Lambda service error): plain text.
The document is parsed, never forwarded: the stack trace stays in the function's logs.
"""

import json
from typing import Any

from .spot import MAX_WAIT_EXCEEDED, ran_out_of_spot_wait

MAX_DETAIL_CHARS = 500


def describe_failure(error: Any) -> tuple[str, str]:
    """(error name, first line of the cause) of what a Catch stored."""
    error = error if isinstance(error, dict) else {}
    name = str(error.get("Error") or "unknown error")
    cause = error.get("Cause")
    try:
        document = json.loads(cause) if isinstance(cause, str) else cause
    except ValueError:
        document = cause
    if isinstance(document, dict):
        if "errorType" in document or "errorMessage" in document:
            name = str(error.get("Error") or document.get("errorType"))
            detail = document.get("errorMessage")
        elif ran_out_of_spot_wait(document):  # a Stopped spot job has no FailureReason
            name = "SpotCapacityUnavailable"
            detail = f"training job {document.get('TrainingJobName')} stopped: {MAX_WAIT_EXCEEDED}"
        else:
            detail = document.get("FailureReason") or document.get("message")
        detail = detail if detail is not None else json.dumps(document)[:MAX_DETAIL_CHARS]
    else:
        detail = document
    return name, first_line(detail)


def first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text if text is not None else "").splitlines()]
    line = next((line for line in lines if line), "")
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 1] + "…"
