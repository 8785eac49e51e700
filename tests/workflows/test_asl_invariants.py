"""Invariants every statemachines/*.asl.json keeps, checked on all of them (recursively into Map
iterators): wiring, reachability, error handling, error names, notifications, waits.

Sources: "Amazon States Language" specification (states-language.net) for transitions and
error names; the Step Functions developer guide pages "Handling errors in Step Functions
workflows" (predefined States.* names, States.ALL alone and last) and "Handle transient Lambda
service exceptions" (the recommended Lambda retrier).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from asl_model import (
    DOMAIN_ERRORS,
    LAMBDA_INVOKE,
    ROOT,
    SUBSTITUTION,
    all_states,
    function_of,
    handler_path,
    is_lambda_task,
    lambda_tasks,
    machines,
    raised_domain_errors,
    reachable,
    scopes,
    template,
    transitions,
)
from mlops_common.domain.outcome import HEADLINES

MACHINES = sorted(machines())
# docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
}  # fmt: skip
# The same page: unhandled errors (out of memory, function timeouts) are Lambda.Unknown; the
# lambda:invoke integration names a killed runtime and a timeout by the function's errorType
# ("Runtime.ExitError", "Sandbox.Timedout"; Lambda developer guide, "Troubleshoot invocation
# issues in Lambda").
LAMBDA_CRASH = {"Lambda.Unknown", "Runtime.ExitError", "Sandbox.Timedout"}
#: Tasks retried after a crash, each because running it twice does what running it once does:
CRASH_SAFE = {
    "TrainingPipeline": {
        "ValidateDataset",  # the same execution claims its key again; copy and pointer repeat
        "PrepareCandidate",  # computes job requests, no side effect
        "PrepareReEvaluation",  # the same, for a later round of evaluation
        "SelectCandidate",  # reads reports
        "RegisterModel",  # finds the package its execution created (lineage) before creating
        "NotifySkipped",  # RecordOutcome: the ledger update is conditional and repeatable;
        "NotifyNotBetter",  # the notification may be sent twice (at least once, never lost)
        "NotifyRegistered",
        "NotifyFailure",
    },
}
#: (machine, state, error) -> the states its Catch may lead to instead of a Fail naming it:
#: errors the workflow recovers from, for a bounded number of rounds.
RECOVERED = {("TrainingPipeline", "RegisterModel", "ChampionChanged"): ("ChampionRound",)}
# docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html: a misspelt
# predefined name matches nothing, so it is checked against the list.
STATES_ERRORS = {
    "States.ALL", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout", "States.Http.Socket", "States.IntrinsicFailure",
    "States.ItemReaderFailed", "States.NoChoiceMatched", "States.ParameterPathFailure",
    "States.Permissions", "States.ResultPathMatchFailure", "States.ResultWriterFailed",
    "States.Runtime", "States.TaskFailed", "States.Timeout", "States.QueryEvaluationError",
}  # fmt: skip


def _definition(logical: str) -> dict[str, Any]:
    return machines()[logical].definition


def _is_notification(machine_logical: str, state: dict[str, Any]) -> bool:
    machine = machines()[machine_logical]
    return is_lambda_task(state) and function_of(machine, state) == "RecordOutcomeFunction"


def test_every_asl_file_is_the_definition_of_a_state_machine() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "statemachines").glob("*.asl.json")}
    assert files and files == {machine.uri for machine in machines().values()}


@pytest.mark.parametrize("logical", MACHINES)
def test_substitutions_used_are_exactly_those_defined(logical: str) -> None:
    machine = machines()[logical]
    used = set(SUBSTITUTION.findall((ROOT / machine.uri).read_text(encoding="utf-8")))
    assert used == set(machine.substitutions)


@pytest.mark.parametrize("logical", MACHINES)
def test_every_transition_names_a_state_of_its_own_scope(logical: str) -> None:
    for scope_name, scope in scopes(_definition(logical)):
        names = set(scope["States"])
        assert scope["StartAt"] in names, scope_name
        for name, state in scope["States"].items():
            for kind, target, _ in transitions(state):
                assert target in names, f"{scope_name}/{name} {kind} -> {target}"
            terminal = state["Type"] in ("Succeed", "Fail", "Choice")
            assert terminal or ("Next" in state) != bool(state.get("End")), f"{name}: Next xor End"


@pytest.mark.parametrize("logical", MACHINES)
def test_every_state_is_reachable_from_start_at(logical: str) -> None:
    for scope_name, scope in scopes(_definition(logical)):
        unreached = set(scope["States"]) - reachable(scope)
        assert not unreached, f"{scope_name}: {sorted(unreached)}"


@pytest.mark.parametrize("logical", MACHINES)
def test_every_task_and_map_catches_every_error(logical: str) -> None:
    # An uncaught error would end the execution without its notification.
    for name, state in all_states(_definition(logical)):
        if state["Type"] in ("Task", "Map"):
            assert state.get("Catch") and state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


@pytest.mark.parametrize("logical", MACHINES)
def test_lambda_tasks_retry_transient_lambda_service_errors_as_recommended(logical: str) -> None:
    tasks = lambda_tasks(machines()[logical])
    assert tasks
    for name, state in tasks:
        retry = state.get("Retry", [])
        transient = [r for r in retry if set(r["ErrorEquals"]) >= LAMBDA_TRANSIENT]
        assert len(transient) == 1, name
        # The guide's example retrier: 2 s, 6 attempts, doubling.
        assert (transient[0]["IntervalSeconds"], transient[0]["MaxAttempts"]) == (2, 6), name
        assert transient[0]["BackoffRate"] == 2, name
        throttled = [r for r in retry if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert [r["ErrorEquals"] for r in throttled] == [["Lambda.TooManyRequestsException"]], name
        # Nothing retries a function error: a domain error is a verdict, not a glitch. A crash
        # (out of memory, a timeout, a killed runtime) is retried only where it is safe.
        retried = {error for r in retry for error in r["ErrorEquals"]}
        crash = [r for r in retry if set(r["ErrorEquals"]) == LAMBDA_CRASH]
        safe = name in CRASH_SAFE.get(logical, {})
        assert len(crash) == (1 if safe else 0), name
        if crash:
            assert (crash[0]["IntervalSeconds"], crash[0]["MaxAttempts"]) == (2, 2), name
        allowed = LAMBDA_TRANSIENT | {"Lambda.TooManyRequestsException"}
        assert retried <= allowed | (LAMBDA_CRASH if safe else set()), name


@pytest.mark.parametrize("logical", MACHINES)
def test_states_all_is_alone_and_last(logical: str) -> None:
    for name, state in all_states(_definition(logical)):
        for key in ("Retry", "Catch"):
            entries = state.get(key, [])
            for i, entry in enumerate(entries):
                if "States.ALL" in entry["ErrorEquals"]:
                    assert entry["ErrorEquals"] == ["States.ALL"], f"{name}.{key}[{i}]"
                    assert i == len(entries) - 1, f"{name}.{key}[{i}] is not last"


def _named_errors(state: dict[str, Any]) -> list[str]:
    """Error names a state matches (Retry, Catch) or raises (Fail Error, a Pass writing Error)."""
    names = [e for entry in state.get("Retry", []) + state.get("Catch", []) for e in
             entry["ErrorEquals"]]  # fmt: skip
    if state["Type"] == "Fail" and "Error" in state:
        names.append(state["Error"])
    if state["Type"] == "Pass" and "Error" in state.get("Parameters", {}):
        names.append(state["Parameters"]["Error"])
    return names


@pytest.mark.parametrize("logical", MACHINES)
def test_every_error_name_is_predefined_a_service_error_or_a_domain_error(logical: str) -> None:
    for name, state in all_states(_definition(logical)):
        for error in _named_errors(state):
            if error.startswith("States."):
                assert error in STATES_ERRORS, f"{name}: {error}"
            elif not re.fullmatch(r"(Lambda|SageMaker)\.\w+", error) and error not in LAMBDA_CRASH:
                assert error in DOMAIN_ERRORS, f"{name}: {error} is not in mlops_common.errors"


def _reports_error_of(scope: dict[str, Any], start: str, holder: str) -> bool:
    """Does every way on from `start` (not by a Catch) end in a Fail that names the error
    stored at `holder` (ErrorPath `<holder>.Error`)?"""
    ends = [
        scope["States"][name]
        for name in reachable({"StartAt": start, "States": scope["States"]})
        if scope["States"][name]["Type"] in ("Fail", "Succeed")
    ]
    fails = [s for s in ends if s["Type"] == "Fail"]
    return bool(fails) and all(s.get("ErrorPath") == f"{holder}.Error" for s in fails)


# Steps entered only after the run has failed (its error at $.error): their own error is kept
# beside it, and the run still ends under its first error's name.
AFTER_FAILURE = {"RestoreScaling"}


@pytest.mark.parametrize("logical", MACHINES)
def test_every_domain_error_a_handler_raises_ends_the_run_under_its_own_name(logical: str) -> None:
    machine = machines()[logical]
    definition = machine.definition
    for name, state in lambda_tasks(machine):
        scope = next(s for _, s in scopes(definition) if name in s["States"])
        for error in sorted(raised_domain_errors(function_of(machine, state))):
            catchers = [c for c in state["Catch"] if {error, "States.ALL"} & set(c["ErrorEquals"])]
            assert catchers, f"{name}: nothing catches {error}"
            catcher = catchers[0]
            if scope is not definition:  # inside a Map: the item records the failure
                continue
            if name in AFTER_FAILURE:
                assert catcher["ResultPath"] != "$.error", f"{name} overwrites the run's error"
                assert _reports_error_of(scope, catcher["Next"], "$.error")
                continue
            if catcher["Next"] in RECOVERED.get((logical, name, error), ()):
                # The workflow recovers from it (another round); when it gives up, a Pass names
                # the error and the run ends under that name.
                onward = reachable({"StartAt": catcher["Next"], "States": definition["States"]})
                giving_up = [
                    n for n in onward if definition["States"][n].get("Parameters", {}).get(
                        "Error") == error
                ]  # fmt: skip
                assert giving_up, f"{name}: {error} is recovered from but never ends a run"
                for n in giving_up:
                    given_up = definition["States"][n]
                    assert _reports_error_of(definition, given_up["Next"], given_up["ResultPath"])
                continue
            assert _reports_error_of(scope, catcher["Next"], catcher["ResultPath"]), (
                f"{name}: {error} caught by {catcher} does not end in a Fail naming it"
            )


def test_errors_a_handler_raises_at_cold_start_count_as_its_errors() -> None:
    # ProblemSettings' validators raise ConfigurationInvalid while the handler is imported.
    assert "ConfigurationInvalid" in raised_domain_errors("SelectCandidateFunction")
    assert "ConfigurationInvalid" in raised_domain_errors("ValidateDatasetFunction")
    assert "ConfigurationInvalid" not in raised_domain_errors("RegisterModelFunction")


def test_every_domain_error_is_raised_by_a_handler_or_named_by_a_state() -> None:
    used: set[str] = set()
    for machine in machines().values():
        used |= {e for _, state in all_states(machine.definition) for e in _named_errors(state)}
        for _, state in lambda_tasks(machine):
            used |= raised_domain_errors(function_of(machine, state))
    assert set(DOMAIN_ERRORS) - used == set()


@pytest.mark.parametrize("logical", MACHINES)
def test_workflow_ends_only_after_its_notification(logical: str) -> None:
    definition = _definition(logical)
    states = definition["States"]
    assert not [n for n, s in states.items() if s.get("End")], "top-level End without outcome"
    terminals = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    assert terminals
    for name, state in states.items():
        into_terminal = {t for _, t, _ in transitions(state)} & terminals
        if into_terminal:
            assert _is_notification(logical, state), f"{name} -> {into_terminal}"
        if _is_notification(logical, state):  # a failing notification changes nothing
            assert {t for _, t, _ in transitions(state)} == into_terminal, name
            assert len(into_terminal) == 1, name


@pytest.mark.parametrize("logical", MACHINES)
def test_fail_states_report_the_error_that_was_caught(logical: str) -> None:
    """Fail.ErrorPath/CausePath read what the Catch stored, and the notification between them
    keeps it (its own failure is stored elsewhere)."""
    states = _definition(logical)["States"]
    for fail_name, fail in states.items():
        if fail["Type"] != "Fail" or "ErrorPath" not in fail:
            continue
        holder = fail["ErrorPath"].rsplit(".", 1)[0]
        assert fail["ErrorPath"] == f"{holder}.Error" and fail["CausePath"] == f"{holder}.Cause"
        for notify, state in states.items():
            if fail_name in {t for _, t, _ in transitions(state)}:
                assert state.get("ResultPath") != holder, notify
                assert all(c.get("ResultPath") != holder for c in state.get("Catch", [])), notify


@pytest.mark.parametrize("logical", MACHINES)
def test_every_notification_names_this_workflow_and_an_outcome_with_a_headline(
    logical: str,
) -> None:
    payloads = [
        state["Parameters"]["Payload"]
        for _, state in all_states(_definition(logical))
        if _is_notification(logical, state)
    ]
    assert len({p["workflow"] for p in payloads}) == 1, payloads
    for payload in payloads:
        assert (payload["workflow"], payload["outcome"]) in HEADLINES


@pytest.mark.parametrize("logical", MACHINES)
def test_waits_read_their_seconds_from_a_configured_interval(logical: str) -> None:
    # A literal Seconds or a Timestamp cannot follow the stack's configuration. A raw
    # `"Seconds": ${X}` would not be JSON, so the interval arrives by SecondsPath, written either
    # by a state that reads a substitution (LoadSettings: States.StringToJson('${X}')) or by a
    # Lambda whose setting comes from a Number template parameter.
    machine = machines()[logical]
    parameters = template()["Parameters"]
    for name, state in all_states(machine.definition):
        if state["Type"] != "Wait":
            continue
        assert set(state) - {"Comment"} == {"Type", "SecondsPath", "Next"}, name
        holder, _, leaf = state["SecondsPath"].rpartition(".")
        writers = [s for _, s in all_states(machine.definition) if s.get("ResultPath") == holder]
        if writers and "Parameters" in writers[0]:
            assert all(SUBSTITUTION.search(json.dumps(w["Parameters"])) for w in writers), name
            continue
        lambdas = [
            s
            for _, s in lambda_tasks(machine)
            if s.get("ResultPath") and holder.startswith(f"{s['ResultPath']}.Payload")
        ]
        assert len(lambdas) == 1, f"{name}: {state['SecondsPath']} is written by no state"
        function = function_of(machine, lambdas[0])
        variables = template()["Resources"][function]["Properties"]["Environment"]["Variables"]
        configured = [
            parameters[v["Ref"]]
            for k, v in variables.items()
            if k.endswith(leaf.upper()) and isinstance(v, dict) and "Ref" in v
        ]
        assert len(configured) == 1, f"{name}: no template parameter sets {leaf}"
        assert configured[0]["Type"] == "Number" and "MaxValue" in configured[0], name


@pytest.mark.parametrize("logical", MACHINES)
def test_every_lambda_task_invokes_a_function_of_this_repository(logical: str) -> None:
    machine = machines()[logical]
    for name, state in all_states(machine.definition):
        if state.get("Type") == "Task" and "lambda" in state["Resource"]:
            assert state["Resource"] == LAMBDA_INVOKE, f"{name}: use the optimized integration"
            assert Path(handler_path(function_of(machine, state))).is_file(), name
