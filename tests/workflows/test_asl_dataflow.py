"""Every path a state reads exists in the data that reaches it, and every Lambda task hands its
handler what the handler's input model requires.

How: asl_shapes walks each definition from StartAt (a must-analysis: at a state entered from
several places only what every one of them provides counts), seeded with
- the execution input: every sample in events/rules/*.json that the machine's EventBridge rules
  match (moto's pattern matcher; values that are CloudFormation intrinsics are left out of the
  pattern), delivered whole or as the rule's InputTransformer renders it (the twin's renderer,
  mlops.twin.events.input, tested on its own); for the RollbackPipeline also the operator's
  start-execution input (the `request` of events/functions/plan_rollback.json), for the
  TrainingPipeline a retrain request started directly (mlops.retrain builds it); the seed is
  what all of them have in common;
- each Lambda task's result: the Invoke response whose Payload is the handler's output model
  (the return annotation of the domain function the handler dumps, see asl_model);
- each SDK or optimized SageMaker task's result: its botocore output shape.

Limits (what passes here and must be caught elsewhere):
- `dict[str, Any]` fields (the plan's ready-made API requests: model, endpoint_config,
  deployment_config, latency_alarm, shadow) and map-typed botocore members are opaque: any path
  below them is accepted. The behaviour tests run those paths with real plans.
- Optional model fields (`X | None`) count as present: the analysis does not know that, e.g.,
  ValidateDataset's `run` is set whenever `action` is TRAIN. The Choice in front guards it, and
  the behaviour tests run both branches.
- Botocore output members count as present whether or not the service sets them in a response.
"""

from __future__ import annotations

import copy
import json
import typing
from typing import Any

import pytest
from asl_model import (
    ROOT,
    Machine,
    all_states,
    function_of,
    input_model,
    is_lambda_task,
    machines,
    output_model,
)
from asl_shapes import ANY, ListOf, Walker, context_object, join, of_json, of_model, operation
from mlops_common.domain.events import parse_training_start
from mlops_common.models import RetrainRequest
from moto.events.models import EventPattern
from pydantic import BaseModel

from mlops.retrain import retrain_request
from mlops.twin.events.input import INPUT_KEYS, target_input

MACHINES = sorted(machines())
OPERATOR_REQUEST = json.loads(
    (ROOT / "events" / "functions" / "plan_rollback.json").read_text(encoding="utf-8")
)["request"]
NOT_DELIVERED_BY_A_RULE = {
    "RollbackPipeline": [("operator request", OPERATOR_REQUEST)],
    "TrainingPipeline": [
        ("retrain of latest", retrain_request("latest", "drift", "drift-rule")),
        ("forced retrain", retrain_request("s3://data/datasets/a.csv", "fix", "alice", force=True)),
    ],
}
RULE_SAMPLES = {
    path.name: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "events" / "rules").glob("*.json"))
}


def _literal(pattern: Any) -> Any:
    """The pattern without the values that are CloudFormation intrinsics (unknown here)."""
    if isinstance(pattern, dict):
        if any(key == "Ref" or key.startswith("Fn::") for key in pattern):
            return None
        kept = {k: _literal(v) for k, v in pattern.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])} or None
    if isinstance(pattern, list):
        return [v for v in (_literal(item) for item in pattern) if v is not None] or None
    return pattern


def delivered_inputs(machine: Machine) -> list[tuple[str, Any]]:
    found = list(NOT_DELIVERED_BY_A_RULE.get(machine.logical, []))
    for rule_name, rule in machine.rules.items():
        pattern = EventPattern.load(json.dumps(_literal(rule["Pattern"])))
        target = {key: rule[key] for key in INPUT_KEYS if key in rule}
        found += [
            (name, json.loads(target_input(target, e, f"rule/{rule_name}", rule_name)))
            for name, e in RULE_SAMPLES.items()
            if pattern.matches_event(e)
        ]
    return found


def analyse(machine: Machine, definition: dict[str, Any] | None = None) -> Walker:
    definition = definition or machine.definition
    seed = None
    for _, document in delivered_inputs(machine):
        seed = join(seed, of_json(document))

    def payload_of(state: dict[str, Any]) -> Any:
        return of_model(output_model(function_of(machine, state)))

    walker = Walker(payload_of)
    walker.scope(definition, seed, context_object(seed))
    return walker


@pytest.mark.parametrize("logical", MACHINES)
def test_every_rule_delivers_events_that_a_sample_shows(logical: str) -> None:
    machine = machines()[logical]
    for name, rule in machine.rules.items():
        assert not {"Input", "InputPath"} & set(rule), f"{name}: teach delivered_inputs() it"
        pattern = EventPattern.load(json.dumps(_literal(rule["Pattern"])))
        assert any(pattern.matches_event(e) for e in RULE_SAMPLES.values()), name


def test_a_retrain_request_arrives_in_the_same_shape_by_the_bus_or_started_directly() -> None:
    # design decision D1: the rule's InputTransformer wraps the detail as {"retrain": ...}
    inputs = dict(delivered_inputs(machines()["TrainingPipeline"]))
    detail = RULE_SAMPLES["retrain_requested.json"]["detail"]
    assert inputs["retrain_requested.json"] == {"retrain": detail}
    for name in ("retrain_requested.json", "forced retrain", "retrain of latest"):
        assert isinstance(parse_training_start(inputs[name]), RetrainRequest), name


@pytest.mark.parametrize("logical", MACHINES)
def test_every_path_a_state_reads_exists_in_the_data_that_reaches_it(logical: str) -> None:
    machine = machines()[logical]
    analysis = analyse(machine).analysis
    assert [str(p) for p in analysis.problems] == []
    walked = {name.rsplit("/", 1)[-1] for name in analysis.inputs}
    assert walked == {name for name, _ in all_states(machine.definition)}


def unsupplied(shape: Any, annotation: Any, where: str) -> list[str]:
    """What a model-typed value needs (its required fields, recursively) and `shape` lacks."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unsupplied(shape, typing.get_args(annotation)[0], where)
    if origin is list and isinstance(shape, ListOf):
        return unsupplied(shape.item, typing.get_args(annotation)[0], f"{where}[]")
    if shape is ANY or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return []
    if not isinstance(shape, dict):
        return [f"{where} is not an object"]
    missing = []
    for name, info in annotation.model_fields.items():
        keys = {name, info.alias} - {None}
        present = [key for key in keys if key in shape]
        if not present:
            missing += [f"{where}.{name}"] if info.is_required() else []
            continue
        missing += unsupplied(shape[present[0]], info.annotation, f"{where}.{name}")
    return missing


def payload_problems(machine: Machine, walker: Walker, definition: dict | None = None) -> list[str]:
    analysis, problems = walker.analysis, []
    for name, state in all_states(definition or machine.definition):
        if not is_lambda_task(state):
            continue
        [key] = [k for k in analysis.inputs if k.rsplit("/", 1)[-1] == name]
        model = input_model(function_of(machine, state))
        shape = walker.template(
            state["Parameters"]["Payload"], analysis.inputs[key], analysis.contexts[key], name, ""
        )
        known = {n for n, i in model.model_fields.items()} | {
            i.alias for i in model.model_fields.values() if i.alias
        }
        problems += [f"{name}: {k} is not a field of {model.__name__}" for k in set(shape) - known]
        problems += [f"{name}: {model.__name__} lacks {m}" for m in unsupplied(shape, model, "")]
    return problems


@pytest.mark.parametrize("logical", MACHINES)
def test_every_lambda_payload_supplies_what_its_handler_input_model_requires(logical: str) -> None:
    machine = machines()[logical]
    assert payload_problems(machine, analyse(machine)) == []


@pytest.mark.parametrize("logical", MACHINES)
def test_service_task_parameters_are_members_of_the_botocore_request(logical: str) -> None:
    for name, state in all_states(machines()[logical].definition):
        if state["Type"] != "Task" or is_lambda_task(state):
            continue
        _, model, _ = operation(state["Resource"])
        sent = {key.removesuffix(".$") for key in state.get("Parameters", {})}
        members = set(model.input_shape.members)
        assert sent <= members, f"{name}: {sorted(sent - members)} not in {model.name}"
        required = set(model.input_shape.required_members)
        assert required <= sent, f"{name}: {model.name} needs {sorted(required - sent)}"


# ---------------------------------------------------------------- the checks can fail


def _mutated(logical: str, state_name: str, change: typing.Callable[[dict], None]) -> dict:
    definition = copy.deepcopy(machines()[logical].definition)
    for name, state in all_states(definition):
        if name == state_name:
            change(state)
    return definition


def test_a_renamed_field_is_reported_where_it_is_read() -> None:
    def rename(state: dict) -> None:
        state["Parameters"]["EndpointName.$"] = "$.plan.Payload.endpoint"

    definition = _mutated("DeployPipeline", "DescribeEndpoint", rename)
    problems = analyse(machines()["DeployPipeline"], definition).analysis.problems
    assert [str(p) for p in problems] == [
        "DescribeEndpoint Parameters.EndpointName.$ reads $.plan.Payload.endpoint: "
        "no $.plan.Payload.endpoint"
    ]


def test_a_result_that_overwrites_the_state_is_reported_downstream() -> None:
    # Without a ResultPath the notification's result replaces the whole state: the Fail state
    # behind it could no longer name the error.
    definition = _mutated("TrainingPipeline", "NotifyFailure", lambda s: s.pop("ResultPath"))
    problems = analyse(machines()["TrainingPipeline"], definition).analysis.problems
    assert {(p.state, p.where, p.missing_at) for p in problems} == {
        ("Failed", "ErrorPath", "$.error"),
        ("Failed", "CausePath", "$.error"),
    }


def test_a_path_only_one_way_in_provides_is_reported() -> None:
    # NotifyFailure is entered from every Catch; only the Catch of CompareShadow provides a
    # shadow result, so reading it there is reported.
    def reads_shadow(state: dict) -> None:
        state["Parameters"]["Payload"]["decision.$"] = "$.shadow_result.Payload.decision"

    definition = _mutated("DeployPipeline", "NotifyFailure", reads_shadow)
    problems = analyse(machines()["DeployPipeline"], definition).analysis.problems
    assert [(p.state, p.missing_at) for p in problems] == [("NotifyFailure", "$.shadow_result")]


def test_a_choice_on_a_value_its_field_cannot_take_is_reported() -> None:
    def typo(state: dict) -> None:
        state["Choices"][0]["StringEquals"] = "DEPLOYED"

    definition = _mutated("DeployPipeline", "ShouldDeploy", typo)
    problems = analyse(machines()["DeployPipeline"], definition).analysis.problems
    assert [str(p) for p in problems] == [
        "ShouldDeploy Choice reads $.plan.Payload.action: no 'DEPLOYED' among "
        "['DEPLOY', 'SKIP', 'SUPERSEDED', 'WAIT']"
    ]


def test_a_payload_without_a_required_field_is_reported() -> None:
    machine = machines()["RollbackPipeline"]
    definition = _mutated(
        "RollbackPipeline", "RecordRollback", lambda s: s["Parameters"]["Payload"].pop("plan.$")
    )
    problems = payload_problems(machine, analyse(machine, definition), definition)
    assert problems == ["RecordRollback: RecordRollbackInput lacks .plan"]
