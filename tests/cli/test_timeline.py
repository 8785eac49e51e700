"""An execution state by state from its history (Step Functions API reference,
GetExecutionHistory: HistoryEvent), and the one-line causes an operator reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlops.control.errors import Failed, Refused
from mlops.control.follow import verdict
from mlops.control.timeline import ExecutionView, Timeline, Watcher, one_line

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LAMBDA_ERROR = json.dumps(
    {
        "errorMessage": "3 problems: line 4, column radius: 'abc' is not a number\nline 9: ...",
        "errorType": "DatasetInvalid",
        "requestId": "e1f0",
        "stackTrace": ['  File "/var/task/app.py", line 20, in handler\n'],
    }
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entered(name: str, seconds: float, kind: str = "Task") -> dict[str, Any]:
    return {
        "type": f"{kind}StateEntered",
        "timestamp": at(seconds),
        "stateEnteredEventDetails": {"name": name},
    }


def exited(name: str, seconds: float, kind: str = "Task") -> dict[str, Any]:
    return {
        "type": f"{kind}StateExited",
        "timestamp": at(seconds),
        "stateExitedEventDetails": {"name": name},
    }


def task_failed(seconds: float, error: str, cause: str) -> dict[str, Any]:
    return {
        "type": "TaskFailed",
        "timestamp": at(seconds),
        "taskFailedEventDetails": {"error": error, "cause": cause},
    }


def test_one_line_of_a_lambda_error_is_its_messages_first_line_never_its_stack_trace():
    assert one_line(LAMBDA_ERROR) == "3 problems: line 4, column radius: 'abc' is not a number"


def test_one_line_of_a_job_description_is_its_failure_reason():
    cause = json.dumps({"TrainingJobName": "j", "FailureReason": "AlgorithmError: boom\nmore"})
    assert one_line(cause) == "AlgorithmError: boom"


def test_one_line_of_plain_text_is_its_first_line_cut_to_the_limit():
    assert one_line("\n  first line  \nsecond") == "first line"
    assert one_line("x" * 300, limit=20) == "x" * 19 + "…"
    assert one_line(None) == ""


def test_states_of_a_map_pair_their_entries_and_exits_in_order():
    # Given three candidates prepared in parallel inside a Map,
    events = [
        entered("TrainCandidates", 0, "Map"),
        entered("PrepareCandidate", 1),
        entered("PrepareCandidate", 1.1),
        exited("PrepareCandidate", 2),
        exited("PrepareCandidate", 3.1),
        exited("TrainCandidates", 4, "Map"),
    ]
    timeline = Timeline()
    ended = timeline.feed(events)
    # then each exit closes the oldest open entry of its name.
    assert [(s.state, s.seconds, failed) for s, failed in ended] == [
        ("PrepareCandidate", 1.0, False),
        ("PrepareCandidate", 2.0, False),
        ("TrainCandidates", 4.0, False),
    ]
    assert [s.state for s in timeline.steps] == [
        "TrainCandidates",
        "PrepareCandidate",
        "PrepareCandidate",
    ]


def test_feeding_a_longer_history_returns_only_what_ended_since():
    timeline = Timeline()
    first = [entered("ValidateDataset", 0)]
    assert timeline.feed(first) == []
    assert timeline.current.state == "ValidateDataset"
    ended = timeline.feed(first + [exited("ValidateDataset", 1.5), entered("Train", 1.6)])
    assert [s.state for s, _ in ended] == ["ValidateDataset"]
    assert timeline.current.state == "Train"


def test_a_task_failure_is_the_current_states_with_its_error_and_one_line_cause():
    timeline = Timeline()
    ended = timeline.feed(
        [entered("ValidateDataset", 0), task_failed(0.7, "DatasetInvalid", LAMBDA_ERROR)]
    )
    ((step, failed),) = ended
    assert failed and step.state == "ValidateDataset" and step.error == "DatasetInvalid"
    assert step.cause.startswith("3 problems") and step.seconds == 0.7


class FakeStepFunctions:
    """The three Step Functions reads a Watcher makes, over one scripted execution."""

    ARN = "arn:aws:states:us-east-1:123456789012:execution:mlops-TrainingPipeline:run-1"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.described: dict[str, Any] = {"status": "RUNNING", "startDate": T0}

    def list_executions(self, stateMachineArn: str, maxResults: int) -> dict[str, Any]:
        return {"executions": [{"executionArn": self.ARN, "name": "run-1", "startDate": T0}]}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return self.described

    def get_paginator(self, operation: str) -> Any:
        assert operation == "get_execution_history"
        fake = self

        class Pages:
            def paginate(self, **_kwargs: Any) -> list[dict[str, Any]]:
                return [{"events": list(fake.events)}]

        return Pages()


def test_the_watcher_prints_a_new_execution_each_state_as_it_ends_and_how_it_ended():
    sfn, lines = FakeStepFunctions(), []
    watcher = Watcher(sfn, {"TrainingPipeline": "arn:sm"}, emit=lines.append)
    sfn.events = [entered("ValidateDataset", 0)]
    watcher.poll()
    sfn.events += [task_failed(0.5, "DatasetInvalid", LAMBDA_ERROR), entered("NotifyFailure", 1)]
    sfn.events += [exited("NotifyFailure", 1.2), entered("Failed", 1.3, "Fail")]
    sfn.described = {
        "status": "FAILED",
        "startDate": T0,
        "stopDate": at(1.3),
        "error": "DatasetInvalid",
        "cause": LAMBDA_ERROR,
    }
    watcher.poll()
    watcher.poll()  # an ended execution is not read again
    texts = [line.split("] ", 1)[1] for line in lines]
    assert texts == [
        "TrainingPipeline run-1 started",
        "  Training ! DatasetInvalid: 3 problems: line 4, column radius: 'abc' is not a number",
        "  Training NotifyFailure              0.20s",
        "TrainingPipeline run-1 FAILED DatasetInvalid in 1.3s (3 states)",
    ]
    (view,) = watcher.finished("TrainingPipeline")
    assert view.outcome == "DatasetInvalid" and watcher.running() == []


def _ended(status: str, last_state: str, **described: Any) -> ExecutionView:
    view = ExecutionView("RollbackPipeline", "arn", "run-2", T0, status=status, **described)
    view.timeline.feed([entered(last_state, 1, "Succeed")])
    return view


def test_a_verdict_names_the_ending_and_refuses_or_fails_as_the_exit_code_should():
    output = json.dumps({"plan": {"Payload": {"reason": "v1 is live; production is unaffected"}}})
    assert verdict(_ended("SUCCEEDED", "RolledBack")) == "RollbackPipeline run-2 ended RolledBack"
    with pytest.raises(Refused, match="ended NotNeeded: v1 is live; production is unaffected"):
        verdict(_ended("SUCCEEDED", "NotNeeded", output=output), frozenset({"NotNeeded"}))
    with pytest.raises(Refused, match="^nothing to roll back: no approved version older"):
        verdict(
            _ended(
                "FAILED",
                "NothingToRollBack",
                error="NothingToRollBack",
                cause="no approved version older than the live one (1) exists",
            )
        )
    with pytest.raises(Failed, match="FAILED: DatasetInvalid: 3 problems"):
        verdict(_ended("FAILED", "Failed", error="DatasetInvalid", cause=LAMBDA_ERROR))
