"""A must-analysis of the data that reaches each state of a workflow.

A *shape* describes JSON whose keys are known to be present: a dict maps each key to the shape
of its value, `ListOf(item)` is an array, `SCALAR` a leaf, `ANY` data the analysis cannot see
into (any sub-path of it is accepted). Walking a definition from StartAt, each state's output is
derived with the documented semantics of the Step Functions developer guide ("Processing input
and output in Step Functions": InputPath, Parameters, ResultSelector, ResultPath, OutputPath;
"Accessing execution data from the Context object"; "Map state"; "Handling errors in Step
Functions workflows": a Catch puts {"Error", "Cause"} at its ResultPath of the state's input).
Where several transitions enter a state, only keys present on every one of them are kept (an
intersection), iterated to a fixed point over the endpoint wait loops.

Task results: a Lambda task's is the Invoke response ("Invoke an AWS Lambda function with Step
Functions") with `Payload` the handler's output model; an SDK or optimized SageMaker task's is
the botocore output shape of its operation (for `.sync`, the job's Describe* output, as
"Create and manage Amazon SageMaker AI jobs with Step Functions" documents).

Every path a state reads (`.$` values of Parameters, ResultSelector and ItemSelector, paths in
intrinsic functions, Choice variables, ItemsPath, SecondsPath, ErrorPath, CausePath) is checked
against the shape of the data it reads; each miss is a `Read` problem.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from pydantic import BaseModel


class _Leaf:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ANY = _Leaf("ANY")
SCALAR = _Leaf("SCALAR")


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class OneOf:
    """A leaf whose values are known: a `Literal[...]` model field."""

    values: frozenset[Any]


MISSING = object()
ERROR_OUTPUT = {"Error": SCALAR, "Cause": SCALAR}
INTRINSIC_PATH = re.compile(r"(?<![\w'])(\$\$?(?:\.[A-Za-z_][\w-]*|\[\d+\])*)")


def join(a: Any, b: Any) -> Any:
    """What is known on both of two paths into a state (None: a path not walked yet)."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: join(a[k], b[k]) for k in a if k in b}
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        return ListOf(join(a.item, b.item))
    if isinstance(a, OneOf) and isinstance(b, OneOf):
        return OneOf(a.values | b.values)
    return ANY


def parse_path(path: str) -> tuple[str, list[str | int]]:
    """'$.a.b[0]' -> ('$', ['a', 'b', 0]); '$$.Execution.Input' -> ('$$', [...])."""
    root = "$$" if path.startswith("$$") else "$"
    steps: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[len(root) :]):
        steps.append(int(index) if index else name)
    return root, steps


def get(shape: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if shape is ANY:
            return ANY
        if isinstance(step, int) and isinstance(shape, ListOf):
            shape = shape.item
        elif isinstance(step, str) and isinstance(shape, dict) and step in shape:
            shape = shape[step]
        else:
            return MISSING
    return shape


def put(shape: Any, path: str | None, value: Any) -> Any:
    """ResultPath semantics: '$' replaces, None discards the result, '$.a.b' sets a.b."""
    if path is None:
        return shape
    _, steps = parse_path(path)
    if not steps:
        return value
    if not isinstance(shape, dict):
        return ANY
    head, rest = steps[0], steps[1:]
    inner = shape.get(head, {}) if rest else None
    return {**shape, head: put(inner, "$." + ".".join(map(str, rest)), value) if rest else value}


def of_json(value: Any) -> Any:
    """The shape of a sample document (every key it has is present)."""
    if isinstance(value, dict):
        return {k: of_json(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [of_json(v) for v in value]
        return ListOf(_join_all(items) if items else ANY)
    return SCALAR


def _join_all(shapes: list[Any]) -> Any:
    out = None
    for shape in shapes:
        out = join(out, shape)
    return out


def of_annotation(annotation: Any, by_alias: bool = False) -> Any:
    """The shape a pydantic field's value dumps to (model_dump(mode="json"))."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return of_annotation(typing.get_args(annotation)[0], by_alias)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _join_all([of_annotation(a, by_alias) for a in options])
    if origin is list:
        return ListOf(of_annotation(typing.get_args(annotation)[0], by_alias))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return of_model(annotation, by_alias)
    if origin is typing.Literal:
        return OneOf(frozenset(typing.get_args(annotation)))
    if origin is dict or annotation in (dict, Any):
        return ANY
    return SCALAR


def of_model(model: type[BaseModel], by_alias: bool = False) -> dict[str, Any]:
    return {
        (info.alias if by_alias and info.alias else name): of_annotation(info.annotation, by_alias)
        for name, info in model.model_fields.items()
    }


# ---------------------------------------------------------------- botocore shapes


@cache
def _service(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def _of_botocore(shape: Any, depth: int = 0) -> Any:
    if depth > 8:  # deeper than any path a workflow reads; stops recursive shapes
        return ANY
    if shape.type_name == "structure":
        return {k: _of_botocore(v, depth + 1) for k, v in shape.members.items()}
    if shape.type_name == "list":
        return ListOf(_of_botocore(shape.member, depth + 1))
    return ANY if shape.type_name == "map" else SCALAR


def operation(resource: str) -> tuple[str, Any, bool]:
    """(service, botocore operation model, .sync) of an optimized or SDK integration ARN."""
    match = re.fullmatch(r"arn:aws:states:::(?:aws-sdk:)?([a-z0-9-]+):(\w+?)(\.sync)?", resource)
    assert match, f"not a service integration: {resource}"
    service, api, sync = match.groups()
    model = _service(service).operation_model(api[0].upper() + api[1:])
    return service, model, bool(sync)


def service_result(resource: str) -> Any:
    service, model, sync = operation(resource)
    if sync:  # the .sync result is the job's Describe* output
        model = _service(service).operation_model(model.name.replace("Create", "Describe", 1))
    return _of_botocore(model.output_shape) if model.output_shape else {}


def lambda_result(payload: Any) -> dict[str, Any]:
    invoke = _of_botocore(_service("lambda").operation_model("Invoke").output_shape)
    return {**invoke, "Payload": payload, "SdkHttpMetadata": ANY, "SdkResponseMetadata": ANY}


# ---------------------------------------------------------------- the walk


@dataclass
class Read:
    state: str
    where: str
    path: str
    missing_at: str

    def __str__(self) -> str:
        return f"{self.state} {self.where} reads {self.path}: no {self.missing_at}"


@dataclass
class Analysis:
    """inputs[state] is the shape entering each state (top level and iterators alike);
    reads[state] the problems of its last visit (shapes only shrink, so the last is the most)."""

    inputs: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    reads: dict[str, list[Read]] = field(default_factory=dict)

    @property
    def problems(self) -> list[Read]:
        return [problem for problems in self.reads.values() for problem in problems]


class Walker:
    def __init__(self, payload_shape_of: typing.Callable[[dict[str, Any]], Any]) -> None:
        self._payload_of = payload_shape_of  # Lambda task state -> shape of its Payload
        self.analysis = Analysis()

    # -- reading ------------------------------------------------------------------------
    def read(self, path: str, data: Any, context: Any, state: str, where: str) -> Any:
        root, steps = parse_path(path)
        found = get(context if root == "$$" else data, steps)
        if found is MISSING:
            prefix = path
            while get(context if root == "$$" else data, parse_path(prefix)[1]) is MISSING:
                missing, prefix = prefix, re.sub(r"(\.[^.\[]+|\[\d+\])$", "", prefix)
            self.analysis.reads.setdefault(state, []).append(Read(state, where, path, missing))
            return ANY
        return found

    def template(self, tmpl: Any, data: Any, context: Any, state: str, where: str) -> Any:
        """The shape a payload template (Parameters, ResultSelector, ItemSelector) builds."""
        if isinstance(tmpl, list):
            return ListOf(_join_all([self.template(t, data, context, state, where) for t in tmpl]))
        if not isinstance(tmpl, dict):
            return SCALAR
        out: dict[str, Any] = {}
        for key, value in tmpl.items():
            if key.endswith(".$"):
                here = f"{where}.{key}"
                if value.startswith("$"):
                    out[key[:-2]] = self.read(value, data, context, state, here)
                else:  # an intrinsic function: check the paths it reads
                    for path in INTRINSIC_PATH.findall(value):
                        self.read(path, data, context, state, here)
                    out[key[:-2]] = SCALAR if value.startswith("States.Format") else ANY
            else:
                out[key] = self.template(value, data, context, state, f"{where}.{key}")
        return out

    # -- walking ------------------------------------------------------------------------
    def scope(self, scope: dict[str, Any], entry: Any, context: Any, prefix: str = "") -> Any:
        """Walks a scope from its StartAt; returns the join of what its End states output."""
        inputs: dict[str, Any] = {scope["StartAt"]: entry}
        todo = [scope["StartAt"]]
        ends: dict[str, Any] = {}
        while todo:
            name = todo.pop(0)
            state = scope["States"][name]
            self.analysis.reads[prefix + name] = []
            self.analysis.inputs[prefix + name] = inputs[name]
            self.analysis.contexts[prefix + name] = context
            exits = self.state(prefix + name, state, inputs[name], context)
            for target, shape in exits:
                if target is None:
                    ends[name] = shape
                    continue
                joined = join(inputs.get(target), shape)
                if target not in inputs or joined != inputs[target]:
                    inputs[target] = joined
                    todo.append(target)
        return _join_all(list(ends.values()))

    def state(self, name: str, state: dict[str, Any], data: Any, context: Any) -> list:
        kind = state["Type"]
        if kind == "Choice":
            for rule in state.get("Choices", []):
                self._choice_reads(rule, name, data, context)
            targets = [rule["Next"] for rule in state["Choices"]]
            return [(target, data) for target in targets + [state.get("Default")] if target]
        if kind in ("Succeed", "Fail"):
            for key in ("ErrorPath", "CausePath"):
                if key in state:
                    self.read(state[key], data, context, name, key)
            return [(None, data)] if kind == "Succeed" else []
        if kind == "Wait":
            if "SecondsPath" in state:
                self.read(state["SecondsPath"], data, context, name, "SecondsPath")
            return [(state["Next"], data)]
        assert kind in ("Pass", "Task", "Map"), f"{name}: the analysis does not model {kind}"
        effective = self.read(state.get("InputPath", "$"), data, context, name, "InputPath")
        if kind == "Pass":
            result = of_json(state["Result"]) if "Result" in state else effective
            if "Parameters" in state:
                result = self.template(state["Parameters"], effective, context, name, "Parameters")
        elif kind == "Map":
            result = self._map(name, state, effective, context)
        else:
            result = self._task(name, state, effective, context)
        if "ResultSelector" in state:
            result = self.template(state["ResultSelector"], result, context, name, "ResultSelector")
        output = put(data, state.get("ResultPath", "$"), result)
        output = self.read(state.get("OutputPath", "$"), output, context, name, "OutputPath")
        caught = [(c["Next"], put(data, c.get("ResultPath", "$"), ERROR_OUTPUT)) for c in
                  state.get("Catch", [])]  # fmt: skip
        return [(state.get("Next"), output)] + caught

    def _task(self, name: str, state: dict[str, Any], data: Any, context: Any) -> Any:
        self.template(state.get("Parameters", {}), data, context, name, "Parameters")
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            return lambda_result(self._payload_of(state))
        return service_result(state["Resource"])

    def _map(self, name: str, state: dict[str, Any], data: Any, context: Any) -> Any:
        items = self.read(state.get("ItemsPath", "$"), data, context, name, "ItemsPath")
        item = items.item if isinstance(items, ListOf) else ANY
        item_context = {**context, "Map": {"Item": {"Index": SCALAR, "Value": item}}}
        entry = item
        if "ItemSelector" in state:
            entry = self.template(state["ItemSelector"], data, item_context, name, "ItemSelector")
        processor = state.get("ItemProcessor", state.get("Iterator"))
        return ListOf(self.scope(processor, entry, item_context, prefix=f"{name}/"))

    def _choice_reads(self, rule: dict[str, Any], name: str, data: Any, context: Any) -> None:
        nested_rules = rule.get("And", []) + rule.get("Or", [])
        for nested in nested_rules + ([rule["Not"]] if "Not" in rule else []):
            self._choice_reads(nested, name, data, context)
        if "Variable" in rule and "IsPresent" not in rule:
            value = self.read(rule["Variable"], data, context, name, "Choice Variable")
            if isinstance(value, OneOf) and rule.get("StringEquals", value) not in value.values:
                missing = f"{rule['StringEquals']!r} among {sorted(value.values)}"
                self.analysis.reads[name].append(Read(name, "Choice", rule["Variable"], missing))
        for key, value in rule.items():
            if key.endswith("Path") and key != "Variable":
                self.read(value, data, context, name, f"Choice {key}")


def context_object(execution_input: Any) -> dict[str, Any]:
    """`$$` as the developer guide's "Context object" page lists it (Map.Item inside a Map)."""
    return {
        "Execution": {
            "Id": SCALAR,
            "Input": execution_input,
            "Name": SCALAR,
            "RoleArn": SCALAR,
            "StartTime": SCALAR,
            "RedriveCount": SCALAR,
        },
        "State": {"EnteredTime": SCALAR, "Name": SCALAR, "RetryCount": SCALAR},
        "StateMachine": {"Id": SCALAR, "Name": SCALAR},
        "Task": {"Token": SCALAR},
    }
