"""The TrainingPipeline definition run in the twin's interpreter with scripted functions (see
conftest): where each outcome of its functions leads, and what each function is sent.

Training and evaluation jobs are not run here (tests/e2e runs them): the candidates either fail
before their jobs (PrepareCandidate raises) or the run has none, and SelectCandidate is scripted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_common.models import (
    OutcomeInput,
    SelectCandidateInput,
    ValidateDatasetInput,
    ValidateDatasetOutput,
)
from workflow_harness import Twin, raises, returns, sample

UPLOAD = sample("rules/s3_object_created.json")
RUN = sample("functions/register_model.json")["run"]
SELECTION = sample("functions/register_model.json")["selection"]
REGISTERED = {"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/4",
              "version": 4, "approval_status": "PendingManualApproval"}  # fmt: skip
NOTIFIED = returns({"subject": "s", "message_id": "m", "recorded": True})


def train(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    output = {"action": "TRAIN", "reason": "new dataset version", "run": {**RUN, "candidates":
              candidates}}  # fmt: skip
    return {"return": ValidateDatasetOutput.model_validate(output).model_dump(mode="json")}


def selection(score: float, floor: float, champion: float | None, margin: float = 0.005) -> dict:
    """SelectCandidate's answer for a metric where higher is better (f1): `floor` is the
    MinimumMetric."""
    to_beat = None if champion is None else champion + margin
    gate = {"metric": "f1", "direction": "higher", "score": score, "threshold": floor,
            "margin": margin, "champion_score": champion, "to_beat": to_beat}  # fmt: skip
    return {"return": {**SELECTION, "gate": gate}}


def error_selection(score: float, ceiling: float, champion: float | None, margin: float) -> dict:
    """The same for an error, where lower is better (rmse): `ceiling` is the MinimumMetric."""
    to_beat = None if champion is None else champion - margin
    gate = {"metric": "rmse", "direction": "lower", "score": score, "threshold": ceiling,
            "margin": margin, "champion_score": champion, "to_beat": to_beat}  # fmt: skip
    return {"return": {**SELECTION, "gate": gate}}


def test_dataset_invalid_ends_failed_after_the_failure_notification_with_its_name(
    twin: Twin,
) -> None:
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [raises("DatasetInvalid", "line 3: 'x' is not numeric")],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    assert (run.status, run.error) == ("FAILED", "DatasetInvalid")
    assert json.loads(run.cause)["errorMessage"] == "line 3: 'x' is not numeric"
    assert run.path == ["ValidateDataset", "NotifyFailure", "Failed"]
    [validate] = run.payloads("ValidateDatasetFunction")  # a domain error is not retried
    assert ValidateDatasetInput.model_validate(validate).event == UPLOAD
    [notified] = map(OutcomeInput.model_validate, run.payloads("RecordOutcomeFunction"))
    assert (notified.workflow, notified.outcome) == ("training", "FAILED")
    assert notified.state["error"]["Error"] == "DatasetInvalid"


def test_a_lambda_service_exception_is_retried_and_the_run_goes_on(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = twin.lambda_service_errors(monkeypatch, "ValidateDatasetFunction", 1)
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [returns({"action": "SKIP", "reason": "handled"})],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    assert len(failed) == 1 and run.failures() == ["Lambda.ServiceException"]
    assert (run.status, run.path) == (
        "SUCCEEDED",
        ["ValidateDataset", "IsNewDatasetVersion", "NotifySkipped", "AlreadyHandled"],
    )
    assert len(run.payloads("ValidateDatasetFunction")) == 1


@pytest.mark.parametrize(
    ("gate", "end"),
    [
        (selection(0.95, floor=0.9, champion=None), "Registered"),
        (selection(0.97, floor=0.9, champion=0.96), "Registered"),
        (selection(0.965, floor=0.9, champion=0.96), "Registered"),  # exactly the margin
        (selection(0.964, floor=0.9, champion=0.96), "NotBetter"),
        (selection(0.85, floor=0.9, champion=None), "NotBetter"),
        (selection(0.89, floor=0.9, champion=0.5), "NotBetter"),
        (error_selection(50.0, ceiling=65.0, champion=None, margin=2.0), "Registered"),
        (error_selection(50.0, ceiling=65.0, champion=55.0, margin=2.0), "Registered"),
        (error_selection(53.0, ceiling=65.0, champion=55.0, margin=2.0), "Registered"),
        (error_selection(53.5, ceiling=65.0, champion=55.0, margin=2.0), "NotBetter"),
        (error_selection(70.0, ceiling=65.0, champion=None, margin=2.0), "NotBetter"),
        (error_selection(66.0, ceiling=65.0, champion=90.0, margin=2.0), "NotBetter"),
        (error_selection(60.0, ceiling=65.0, champion=50.0, margin=2.0), "NotBetter"),
    ],
    ids=["no-champion", "beats-champion", "by-the-margin", "within-margin", "below-floor",
         "beats-champion-below-floor", "error-no-champion", "error-beats-champion",
         "error-by-the-margin", "error-within-margin", "error-above-ceiling",
         "error-beats-champion-above-ceiling", "error-worse-than-champion"],
)  # fmt: skip
def test_the_gate_registers_past_threshold_and_champion_by_margin_in_the_metric_direction(
    twin: Twin, gate: dict, end: str
) -> None:
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [train([])],
        "SelectCandidateFunction": [gate],
        "RegisterModelFunction": [returns(REGISTERED)],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    assert run.status == "SUCCEEDED" and run.path[-1] == end
    [select] = map(SelectCandidateInput.model_validate, run.payloads("SelectCandidateFunction"))
    assert select.run.run_id == RUN["run_id"] and select.results == []
    [notified] = map(OutcomeInput.model_validate, run.payloads("RecordOutcomeFunction"))
    expected = {"Registered": "REGISTERED", "NotBetter": "NOT_BETTER"}[end]
    assert notified.outcome == expected
    assert notified.state["selection"]["Payload"]["gate"] == gate["return"]["gate"]
    registered = run.payloads("RegisterModelFunction")
    assert len(registered) == (end == "Registered")
    if registered:
        assert (
            registered[0]["execution"]["Id"] == run.execution["executionArn"]
        )  # bounds its search for a package
        registered[0].pop("execution")
        assert registered[0] == {"run": RUN | {"candidates": []}, "selection": gate["return"]}


CHANGED = raises("ChampionChanged", "evaluated against version 1; the champion is now version 2")


def test_a_champion_changed_at_registration_evaluates_again_and_gates_again(twin: Twin) -> None:
    # Given candidates that failed to train (so no job runs here) and a champion that changed
    # between their evaluation and the registration
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [train(RUN["candidates"])],
        "PrepareCandidateFunction": [raises("EventMalformed", "bad hyperparameter")],
        "SelectCandidateFunction": [selection(0.97, floor=0.9, champion=None)],
        "RegisterModelFunction": [CHANGED, returns(REGISTERED)],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    # Then the run goes round once more: a new round of evaluation, selection and the gate
    assert run.status == "SUCCEEDED", run.path
    top = [state for state in run.path if state not in ("WasEvaluated", "KeepResult")]
    assert run.path.count("KeepResult") == len(RUN["candidates"])
    register = top.index("RegisterModel")
    assert top[register:] == [
        "RegisterModel", "ChampionRound", "NextChampionRound", "ReEvaluateCandidates",
        "SelectCandidate", "BeatsChampion", "RegisterModel", "NotifyRegistered", "Registered",
    ]  # fmt: skip
    # Nothing is trained again; a failed candidate stays failed, as selection sees it again
    assert len(run.payloads("PrepareCandidateFunction")) == len(RUN["candidates"])
    first, again = map(SelectCandidateInput.model_validate, run.payloads("SelectCandidateFunction"))
    assert again.results == first.results and {r.status for r in again.results} == {"FAILED"}
    assert len(run.payloads("RegisterModelFunction")) == 2


def test_a_champion_that_keeps_changing_ends_the_run_champion_changed_after_three_rounds(
    twin: Twin,
) -> None:
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [train([])],
        "SelectCandidateFunction": [selection(0.97, floor=0.9, champion=None)],
        "RegisterModelFunction": [CHANGED],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    assert (run.status, run.error) == ("FAILED", "ChampionChanged")
    assert run.path.count("ReEvaluateCandidates") == 3
    assert len(run.payloads("RegisterModelFunction")) == 4
    assert run.path[-3:] == ["ChampionKeptChanging", "NotifyFailure", "Failed"]
    [notified] = map(OutcomeInput.model_validate, run.payloads("RecordOutcomeFunction"))
    assert notified.state["error"]["Error"] == "ChampionChanged"


def test_candidates_that_fail_are_reported_to_selection_which_fails_the_run_by_name(
    twin: Twin,
) -> None:
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [train(RUN["candidates"])],
        "PrepareCandidateFunction": [raises("EventMalformed", "bad hyperparameter")],
        "SelectCandidateFunction": [raises("TrainingFailed", "none finished")],
        "RecordOutcomeFunction": [NOTIFIED],
    })  # fmt: skip
    assert (run.status, run.error) == ("FAILED", "TrainingFailed")
    prepared = run.payloads("PrepareCandidateFunction")
    assert sorted(p["candidate"]["name"] for p in prepared) == sorted(
        c["name"] for c in RUN["candidates"]
    )
    [select] = map(SelectCandidateInput.model_validate, run.payloads("SelectCandidateFunction"))
    assert [r.candidate.name for r in select.results] == [c["name"] for c in RUN["candidates"]]
    assert {(r.status, r.error["Error"]) for r in select.results} == {("FAILED", "EventMalformed")}
    assert run.path[-2:] == ["NotifyFailure", "Failed"]


def test_a_failing_notification_does_not_change_the_outcome(twin: Twin) -> None:
    run = twin.run("TrainingPipeline", UPLOAD, {
        "ValidateDatasetFunction": [raises("DatasetInvalid", "empty")],
        "RecordOutcomeFunction": [raises("EventMalformed", "notifier broke")],
    })  # fmt: skip
    assert (run.status, run.error) == ("FAILED", "DatasetInvalid")
    assert run.path == ["ValidateDataset", "NotifyFailure", "Failed"]
