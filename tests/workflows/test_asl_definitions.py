"""Static checks of statemachines/*.asl.json against template.yaml and aws-contracts.md §4,
then moto 5.2.5's ASL parser (the interpreter the twin runs) on the substituted definitions."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_common.domain.outcome import HEADLINES
from mlops_common.errors import DOMAIN_ERROR_NAMES
from moto import mock_aws

from mlops.twin.template import Context, evaluate, load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
RECORD_OUTCOME = "${RecordOutcomeFunctionArn}"
SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# aws-contracts.md §4.2 (bp-lambda-serviceexception.html)
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
}  # fmt: skip
# Step Functions' predefined error names (concepts-error-handling); a typo is never caught.
STATES_ERRORS = {
    "States.ALL", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout", "States.Http.Socket", "States.IntrinsicFailure",
    "States.ItemReaderFailed", "States.NoChoiceMatched", "States.ParameterPathFailure",
    "States.Permissions", "States.ResultPathMatchFailure", "States.ResultWriterFailed",
    "States.Runtime", "States.TaskFailed", "States.Timeout", "States.QueryEvaluationError",
}  # fmt: skip
ENDPOINT_SETTLED = {"InService", "Failed", "UpdateRollbackFailed"}  # aws-contracts.md §1.7
DESCRIBE_ENDPOINT = "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint"


def _state_machines() -> dict[str, dict[str, Any]]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {
        props["DefinitionUri"]: {"logical": logical, **props}
        for logical, r in resources.items()
        if r["Type"] == "AWS::Serverless::StateMachine"
        for props in [r["Properties"]]
    }


MACHINES = _state_machines()
ASL_FILES = sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "statemachines").glob("*.asl.json")
)


def _definition(uri: str) -> dict[str, Any]:
    return json.loads((ROOT / uri).read_text(encoding="utf-8"))


def _scopes(states_owner: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict]]:
    """(scope name, {"StartAt", "States"}) for the machine and every Map/Parallel inside it."""
    yield path or "<top>", states_owner
    for name, state in states_owner["States"].items():
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _scopes(state[key], f"{path}/{name}")
        for i, branch in enumerate(state.get("Branches", [])):
            yield from _scopes(branch, f"{path}/{name}[{i}]")


def _all_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for _, scope in _scopes(definition):
        yield from scope["States"].items()


def _transitions(state: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(kind, target, catcher) for every way out of a state."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    if "Next" in state:
        out.append(("Next", state["Next"], None))
    if "Default" in state:
        out.append(("Default", state["Default"], None))
    out += [("Choice", rule["Next"], None) for rule in state.get("Choices", [])]
    out += [("Catch", catcher["Next"], catcher) for catcher in state.get("Catch", [])]
    return out


def _predecessors(scope: dict[str, Any], target: str) -> list[tuple[str, str, dict | None]]:
    return [
        (name, kind, catcher)
        for name, state in scope["States"].items()
        for kind, to, catcher in _transitions(state)
        if to == target
    ]


def _lambda_tasks(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in _all_states(definition) if s.get("Resource") == LAMBDA_INVOKE]


def _is_record_outcome(state: dict[str, Any]) -> bool:
    return (
        state.get("Resource") == LAMBDA_INVOKE
        and state.get("Parameters", {}).get("FunctionName") == RECORD_OUTCOME
    )


def test_every_asl_file_belongs_to_a_state_machine() -> None:
    assert ASL_FILES and set(ASL_FILES) == set(MACHINES)
    # Each parametrized check below runs on all three workflows.
    assert {MACHINES[uri]["logical"] for uri in ASL_FILES} == {
        "TrainingPipeline",
        "DeployPipeline",
        "RollbackPipeline",
    }


@pytest.mark.parametrize("uri", ASL_FILES)
def test_definition_is_json_with_start_and_states(uri: str) -> None:
    definition = _definition(uri)
    assert definition["StartAt"] in definition["States"]


@pytest.mark.parametrize("uri", ASL_FILES)
def test_substitutions_used_are_exactly_those_defined(uri: str) -> None:
    used = set(SUBSTITUTION.findall((ROOT / uri).read_text(encoding="utf-8")))
    assert used == set(MACHINES[uri]["DefinitionSubstitutions"])


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_transition_names_a_state_of_its_own_scope(uri: str) -> None:
    for scope_name, scope in _scopes(_definition(uri)):
        names = set(scope["States"])
        assert scope["StartAt"] in names, scope_name
        for name, state in scope["States"].items():
            for kind, target, _ in _transitions(state):
                assert target in names, f"{scope_name}/{name} {kind} -> {target}"
            terminal = state["Type"] in ("Succeed", "Fail", "Choice")
            assert terminal or ("Next" in state) != bool(state.get("End")), f"{name}: Next xor End"


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_state_is_reachable(uri: str) -> None:
    for scope_name, scope in _scopes(_definition(uri)):
        seen, todo = set(), [scope["StartAt"]]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += [target for _, target, _ in _transitions(scope["States"][name])]
        assert seen == set(scope["States"]), f"{scope_name}: {set(scope['States']) - seen}"


@pytest.mark.parametrize("uri", ASL_FILES)
def test_lambda_tasks_have_the_recommended_retriers_and_a_catch(uri: str) -> None:
    tasks = _lambda_tasks(_definition(uri))
    assert tasks
    for name, state in tasks:
        retry = state.get("Retry", [])
        transient = [r for r in retry if set(r["ErrorEquals"]) >= LAMBDA_TRANSIENT]
        assert len(transient) == 1, name
        assert (transient[0]["IntervalSeconds"], transient[0]["MaxAttempts"]) == (2, 6), name
        assert transient[0]["BackoffRate"] == 2, name
        throttled = [r for r in retry if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert [r["ErrorEquals"] for r in throttled] == [["Lambda.TooManyRequestsException"]], name
        assert state.get("Catch"), name


@pytest.mark.parametrize("uri", ASL_FILES)
def test_states_all_is_alone_and_last(uri: str) -> None:
    for name, state in _all_states(_definition(uri)):
        for key in ("Retry", "Catch"):
            entries = state.get(key, [])
            for i, entry in enumerate(entries):
                if "States.ALL" in entry["ErrorEquals"]:
                    assert entry["ErrorEquals"] == ["States.ALL"], f"{name}.{key}[{i}]"
                    assert i == len(entries) - 1, f"{name}.{key}[{i}] is not last"


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_matched_error_name_exists(uri: str) -> None:
    for name, state in _all_states(_definition(uri)):
        for entry in state.get("Retry", []) + state.get("Catch", []):
            for error in entry["ErrorEquals"]:
                if error.startswith("States."):
                    assert error in STATES_ERRORS, f"{name}: {error}"
                elif not error.startswith(("Lambda.", "SageMaker.")):
                    assert error in DOMAIN_ERROR_NAMES, f"{name}: {error}"


@pytest.mark.parametrize("uri", ASL_FILES)
def test_workflow_ends_only_in_succeed_or_fail_after_record_outcome(uri: str) -> None:
    definition = _definition(uri)
    states = definition["States"]
    assert not [n for n, s in states.items() if s.get("End")], "top-level End without outcome"
    terminals = [n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")]
    assert terminals
    for terminal in terminals:
        sources = {source for source, _, _ in _predecessors(definition, terminal)}
        assert sources, terminal
        assert all(_is_record_outcome(states[s]) for s in sources), f"{terminal} <- {sources}"
    for state in states.values():  # a failing notification must not loop or go elsewhere
        if _is_record_outcome(state):
            assert {states[t]["Type"] for _, t, _ in _transitions(state)} <= {"Succeed", "Fail"}


@pytest.mark.parametrize("uri", ASL_FILES)
def test_fail_states_report_the_error_that_was_caught(uri: str) -> None:
    """Fail.ErrorPath/CausePath read what the Catch stored, and the notification between them
    keeps it (its own failure goes elsewhere)."""
    definition = _definition(uri)
    states = definition["States"]
    for fail_name, fail in states.items():
        if fail["Type"] != "Fail" or "ErrorPath" not in fail:
            continue
        holder = fail["ErrorPath"].rsplit(".", 1)[0]
        assert fail["ErrorPath"] == f"{holder}.Error" and fail["CausePath"] == f"{holder}.Cause"
        for notify, _, _ in _predecessors(definition, fail_name):
            assert states[notify].get("ResultPath") != holder, notify
            for catcher in states[notify].get("Catch", []):
                assert catcher.get("ResultPath") != holder, notify
            for source, kind, catcher in _predecessors(definition, notify):
                if states[source]["Type"] == "Pass" and kind != "Catch":
                    # A Pass may name the error itself: it must write Error and Cause there.
                    assert states[source].get("ResultPath") == holder, source
                    assert {"Error", "Cause.$"} <= set(states[source]["Parameters"]), source
                    continue
                assert kind == "Catch" and catcher is not None, f"{source} -> {notify} by {kind}"
                assert catcher.get("ResultPath") == holder, f"{source} Catch -> {notify}"


def _function_of(uri: str, state: dict[str, Any]) -> dict[str, Any]:
    """The template's Function resource a Lambda task invokes (via its FunctionArn substitution)."""
    substitution = SUBSTITUTION.fullmatch(state["Parameters"]["FunctionName"])
    assert substitution, state["Parameters"]["FunctionName"]
    target = MACHINES[uri]["DefinitionSubstitutions"][substitution.group(1)]
    return load_template(ROOT / "template.yaml")["Resources"][target["Fn::GetAtt"][0]]


@pytest.mark.parametrize("uri", ASL_FILES)
def test_waits_are_short_or_read_a_configured_interval(uri: str) -> None:
    # A raw `"Seconds": ${X}` would not be JSON, so a configured interval arrives by SecondsPath,
    # either from a state that reads the substitution (LoadSettings: States.StringToJson('${X}'))
    # or from a Lambda's result, the function's setting of a template parameter (PlanDeployment's
    # shadow.window_seconds <- SHADOW_WINDOW_SECONDS <- !Ref ShadowWindowSeconds).
    definition = _definition(uri)
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    for name, state in _all_states(definition):
        if state["Type"] != "Wait":
            continue
        if "SecondsPath" not in state:
            assert state.get("Seconds", 60) < 60, f"{name}: literal or timestamp wait"
            continue
        holder, _, leaf = state["SecondsPath"].rpartition(".")
        producers = [
            s["Parameters"].get(f"{leaf}.$", s["Parameters"].get(leaf))
            for _, s in _all_states(definition)
            if s.get("ResultPath") == holder and "Parameters" in s
        ]
        if producers:
            assert all(SUBSTITUTION.search(str(p)) for p in producers), name
            continue
        lambdas = [
            s
            for _, s in _lambda_tasks(definition)
            if s.get("ResultPath") and holder.startswith(f"{s['ResultPath']}.Payload")
        ]
        assert len(lambdas) == 1, f"{name}: {state['SecondsPath']} is written by no state"
        variables = _function_of(uri, lambdas[0])["Properties"]["Environment"]["Variables"]
        configured = {
            variable: value["Ref"]
            for variable, value in variables.items()
            if variable.endswith(leaf.upper()) and isinstance(value, dict) and "Ref" in value
        }
        assert len(configured) == 1, f"{name}: no template parameter sets {leaf}"
        [parameter] = configured.values()
        assert parameters[parameter]["Type"] == "Number" and "MaxValue" in parameters[parameter]


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_wait_reads_its_seconds_from_the_state(uri: str) -> None:
    # A literal Seconds or a Timestamp cannot follow the stack's configuration.
    waits = {n: s for n, s in _all_states(_definition(uri)) if s["Type"] == "Wait"}
    assert bool(waits) == _polls_an_endpoint(uri)  # the training pipeline waits on .sync tasks
    for name, state in waits.items():
        assert set(state) - {"Comment"} == {"Type", "SecondsPath", "Next"}, name


def _polls_an_endpoint(uri: str) -> bool:
    return any(s.get("Resource") == DESCRIBE_ENDPOINT for _, s in _all_states(_definition(uri)))


def test_both_endpoint_workflows_poll_the_endpoint() -> None:
    assert [uri for uri in ASL_FILES if _polls_an_endpoint(uri)] == [
        "statemachines/deploy_pipeline.asl.json",
        "statemachines/rollback_pipeline.asl.json",
    ]


@pytest.mark.parametrize("uri", [uri for uri in ASL_FILES if _polls_an_endpoint(uri)])
def test_endpoint_polling_stops_exactly_on_settled_statuses(uri: str) -> None:
    definition = _definition(uri)
    states = definition["States"]
    waits = [n for n, s in states.items() if s["Type"] == "Wait"]
    loops = [n for n, s in states.items() if s["Type"] == "Choice" and s.get("Default") in waits]
    assert len(loops) == 1, loops
    choice = states[loops[0]]

    def statuses(rule: dict[str, Any]) -> set[str]:
        if "Or" in rule:
            return set().union(*(statuses(r) for r in rule["Or"]))
        assert rule["Variable"].endswith(".EndpointStatus") and "StringEquals" in rule, rule
        return {rule["StringEquals"]}

    exits = [rule for rule in choice["Choices"] if rule["Next"] not in waits]
    assert set().union(*(statuses(rule) for rule in exits)) == ENDPOINT_SETTLED
    # The loop is Wait -> DescribeEndpoint -> this Choice, reading what DescribeEndpoint stored
    # (other waits, such as the shadow test's window, are not part of it)
    wait = choice["Default"]
    describe = states[states[wait]["Next"]]
    assert describe["Resource"] == DESCRIBE_ENDPOINT and describe["Next"] == loops[0]
    variables = {r["Variable"] for rule in exits for r in rule.get("Or", [rule])}
    assert variables == {f"{describe['ResultPath']}.EndpointStatus"}


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_task_catches_everything(uri: str) -> None:
    # An uncaught error would end the execution without its notification.
    for name, state in _all_states(_definition(uri)):
        if state["Type"] == "Task":
            assert state.get("Catch") and state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


@pytest.mark.parametrize("uri", ASL_FILES)
def test_fail_states_with_a_literal_error_name_a_domain_error(uri: str) -> None:
    for name, state in _all_states(_definition(uri)):
        if state["Type"] == "Fail" and "Error" in state:
            assert state["Error"] in DOMAIN_ERROR_NAMES, name


def _reported_outcomes() -> list[tuple[str, str]]:
    return sorted(
        {
            (state["Parameters"]["Payload"]["workflow"], state["Parameters"]["Payload"]["outcome"])
            for uri in ASL_FILES
            for _, state in _all_states(_definition(uri))
            if _is_record_outcome(state)
        }
    )


@pytest.mark.parametrize(("workflow", "outcome"), _reported_outcomes())
def test_every_reported_outcome_has_a_headline(workflow: str, outcome: str) -> None:
    assert (workflow, outcome) in HEADLINES


# ---------------------------------------------------------------- moto's ASL parser


def _substituted(uri: str) -> str:
    """The definition as CloudFormation would deliver it for a placeholder stack."""
    template = load_template(ROOT / "template.yaml")
    images = {"TrainingImageUri": IMAGE, "InferenceImageUri": IMAGE}
    parameters = resolve_parameters(template, images)
    functions = {
        logical: {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mlops-dev-{logical}"}
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    ctx = Context(parameters=parameters, pseudo={"AWS::Region": REGION}, attributes=functions)
    values = evaluate(MACHINES[uri]["DefinitionSubstitutions"], ctx)
    raw = (ROOT / uri).read_text(encoding="utf-8")
    return SUBSTITUTION.sub(lambda m: str(values[m.group(1)]), raw)


@pytest.fixture
def sfn_with_seams(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    try:
        from mlops.twin.sfn_seams import install_sfn_seams

        install_sfn_seams()
    except Exception as exc:  # whatever breaks, the seams are unavailable to this test
        pytest.skip(f"mlops.twin.sfn_seams unavailable: {exc!r}")
    for name in list(os.environ):  # the twin's endpoint would bypass moto's interception
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


@pytest.mark.parametrize("uri", ASL_FILES)
def test_moto_accepts_the_substituted_definition(sfn_with_seams: Any, uri: str) -> None:
    definition = _substituted(uri)
    assert not SUBSTITUTION.search(definition)
    created = sfn_with_seams.create_state_machine(
        name=MACHINES[uri]["logical"],
        definition=definition,
        type="STANDARD",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{MACHINES[uri]['logical']}Role",
    )
    described = sfn_with_seams.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert json.loads(described["definition"]) == json.loads(definition)


@pytest.mark.parametrize("uri", ASL_FILES)
def test_every_task_resolves_to_a_supported_integration(sfn_with_seams: Any, uri: str) -> None:
    # moto internals: AmazonStateLanguageParser.parse, Component, CommonStateField and
    # StateTaskServiceUnsupported (the fallback for integrations moto does not implement).
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (  # noqa: E501
        StateTaskServiceUnsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(_substituted(uri))
    parsed: dict[str, type] = {}
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, CommonStateField):
            parsed[node.name] = type(node)
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, Component):
            children = vars(node).values()
        if isinstance(node, (dict, list, tuple, Component)):
            for child in children:
                walk(child)

    walk(program)
    assert set(parsed) == {name for name, _ in _all_states(_definition(uri))}
    unsupported = [n for n, cls in parsed.items() if issubclass(cls, StateTaskServiceUnsupported)]
    assert not unsupported, sorted(unsupported)
