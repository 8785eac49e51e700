"""A failed asynchronous invocation is retried twice, then dead-lettered with Lambda's
attributes (mlops/twin/lambda_/asynchronous.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.twin.lambda_.asynchronous import RETRY_DELAYS_S, run_with_retries
from mlops.twin.lambda_.function import FunctionSpec, InvocationResult

SPEC = FunctionSpec("record", "arn:aws:lambda:us-east-1:1:function:record", Path("."), "app.h",
                    {}, 30, 512, dead_letter_arn="arn:aws:sqs:us-east-1:1:dlq")  # fmt: skip
pytestmark = pytest.mark.twin
ERROR = json.dumps({"errorType": "EventMalformed", "errorMessage": "not an S3 event"}).encode()


def result(failed: bool) -> InvocationResult:
    return InvocationResult(200, ERROR if failed else b"{}", "Unhandled" if failed else None,
                            "", 1.0, None, "req-1")  # fmt: skip


def test_an_invocation_failing_every_time_runs_three_times_then_goes_to_the_queue() -> None:
    runs, letters, waits = [], [], []
    last = run_with_retries(
        SPEC,
        '{"id": "e"}',
        lambda: runs.append(1) or result(True),
        lambda *letter: letters.append(letter),
        waits.append,
    )
    assert len(runs) == 3 and waits == list(RETRY_DELAYS_S) and last.function_error
    assert letters == [
        (
            SPEC.dead_letter_arn,
            '{"id": "e"}',
            {
                "RequestID": "req-1",
                "ErrorCode": "200",
                "ErrorMessage": "EventMalformed: not an S3 event",
            },  # fmt: skip
        )
    ]


def test_a_retry_that_succeeds_sends_nothing_to_the_queue() -> None:
    outcomes, letters = iter([True, False]), []
    run_with_retries(SPEC, "{}", lambda: result(next(outcomes)), lambda *a: letters.append(a),
                     lambda _s: None)  # fmt: skip
    assert letters == []


def test_a_function_without_a_dead_letter_queue_drops_the_event_after_its_retries() -> None:
    runs, letters = [], []
    spec = FunctionSpec("f", "arn", Path("."), "app.h", {}, 3, 128)
    run_with_retries(spec, "{}", lambda: runs.append(1) or result(True),
                     lambda *a: letters.append(a), lambda _s: None)  # fmt: skip
    assert (len(runs), letters) == (3, [])
