"""What the workflow tests read, derived from the repository rather than restated: the three
state machines as template.yaml wires them (DefinitionSubstitutions, EventBridge rules), their
states (recursively into Map iterators and Parallel branches), and for each Lambda task the
handler behind it, its pydantic input and output models and the domain errors it can raise.

template.yaml is read with a small YAML loader that turns CloudFormation short forms (`!Ref X`,
`!GetAtt A.B`, `!Sub ...`) into their `Ref` / `Fn::*` mappings ("Intrinsic function
reference" in the AWS CloudFormation User Guide); nothing is evaluated.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from mlops_common import errors
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
DOMAIN_ERRORS = {cls.__name__: cls for cls in errors.MlopsError.__subclasses__()}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as their long-form mappings."""


def _short_form(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


@cache
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)


@dataclass(frozen=True)
class Machine:
    logical: str
    uri: str  # DefinitionUri, e.g. statemachines/training_pipeline.asl.json
    substitutions: dict[str, Any]
    rules: dict[str, dict[str, Any]]  # EventBridgeRule events: name -> Properties

    @property
    def definition(self) -> dict[str, Any]:
        return json.loads((ROOT / self.uri).read_text(encoding="utf-8"))


@cache
def machines() -> dict[str, Machine]:
    """Every AWS::Serverless::StateMachine of template.yaml, by logical id."""
    return {
        logical: Machine(
            logical,
            props["DefinitionUri"],
            props.get("DefinitionSubstitutions", {}),
            {
                name: event["Properties"]
                for name, event in props.get("Events", {}).items()
                if event["Type"] == "EventBridgeRule"
            },
        )
        for logical, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
        for props in [resource["Properties"]]
    }


def scopes(owner: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(scope name, {"StartAt", "States"}) for a machine and every Map/Parallel inside it."""
    yield path or "<top>", owner
    for name, state in owner["States"].items():
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from scopes(state[key], f"{path}/{name}")
        for i, branch in enumerate(state.get("Branches", [])):
            yield from scopes(branch, f"{path}/{name}[{i}]")


def all_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for _, scope in scopes(definition):
        yield from scope["States"].items()


def transitions(state: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(kind, target, catcher) for every way out of a state."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    if "Next" in state:
        out.append(("Next", state["Next"], None))
    if "Default" in state:
        out.append(("Default", state["Default"], None))
    out += [("Choice", rule["Next"], None) for rule in state.get("Choices", [])]
    out += [("Catch", catcher["Next"], catcher) for catcher in state.get("Catch", [])]
    return out


def reachable(scope: dict[str, Any], start: str | None = None) -> set[str]:
    seen, todo = set(), [start or scope["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [target for _, target, _ in transitions(scope["States"][name])]
    return seen


def is_lambda_task(state: dict[str, Any]) -> bool:
    return state.get("Type") == "Task" and state.get("Resource") == LAMBDA_INVOKE


def lambda_tasks(machine: Machine) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in all_states(machine.definition) if is_lambda_task(s)]


def function_of(machine: Machine, state: dict[str, Any]) -> str:
    """Logical id of the AWS::Serverless::Function a Lambda task invokes."""
    match = SUBSTITUTION.fullmatch(state["Parameters"]["FunctionName"])
    assert match, f"FunctionName {state['Parameters']['FunctionName']} is not a substitution"
    value = machine.substitutions[match.group(1)]
    assert list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][1] == "Arn", value
    return value["Fn::GetAtt"][0]


def handler_path(function: str) -> Path:
    props = template()["Resources"][function]["Properties"]
    module = props.get("Handler", template()["Globals"]["Function"]["Handler"]).rsplit(".", 1)[0]
    return ROOT / props["CodeUri"] / f"{module}.py"


def _handler_tree(function: str) -> ast.Module:
    return ast.parse(handler_path(function).read_text(encoding="utf-8"))


def _imported(tree: ast.Module) -> dict[str, str]:
    """name -> module for every `from module import name` of a module."""
    return {
        alias.asname or alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def input_model(function: str) -> type[BaseModel]:
    """The `model=` of the handler's @handler decorator (read from source: importing a handler
    needs its environment)."""
    tree = _handler_tree(function)
    [name] = [
        keyword.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "handler"
        for keyword in node.keywords
        if keyword.arg == "model" and isinstance(keyword.value, ast.Name)
    ]
    return getattr(importlib.import_module(_imported(tree)[name]), name)


def domain_call(function: str) -> Any:
    """The domain function whose result the handler returns (`return x` where
    `x = domain_function(...)`; the decorator dumps it)."""
    tree = _handler_tree(function)
    [returned] = [
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Name)
    ]
    [called] = [
        node.value.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == [returned]
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ]
    return getattr(importlib.import_module(_imported(tree)[called]), called)


def output_model(function: str) -> type[BaseModel]:
    """The return annotation of the handler's domain function: what the handler dumps."""
    returned = typing.get_type_hints(domain_call(function))["return"]
    assert isinstance(returned, type) and issubclass(returned, BaseModel), returned
    return returned


# ---------------------------------------------------------------- errors a handler can raise


@cache
def _layer_functions() -> dict[str, list[ast.AST]]:
    """Every function and method defined in the shared layer, by name (methods of different
    classes share a name: a call by that name may reach any of them)."""
    package = ROOT / "layers" / "common" / "mlops_common"
    found: dict[str, list[ast.AST]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.setdefault(node.name, []).append(node)
    return found


def settings_classes(function: str) -> list[type]:
    """The settings the handler builds at cold start (`settings = XSettings()` at module
    level) and the classes of mlops_common.settings it inherits from: their validators run
    during the import, so what they raise is the function's error as well ("Lambda function
    errors in Python": an exception during initialisation is reported by its class name)."""
    tree = _handler_tree(function)
    imported = _imported(tree)
    built = [
        node.value.func.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and imported.get(node.value.func.id) == "mlops_common.settings"
    ]
    module = importlib.import_module("mlops_common.settings")
    return [
        cls
        for name in built
        for cls in getattr(module, name).__mro__
        if cls.__module__ == "mlops_common.settings"
    ]


def _source_tree(obj: Any) -> ast.AST:
    source = inspect.getsource(obj)
    return ast.parse(inspect.cleandoc(source) if source[0] == " " else source)


def raised_domain_errors(function: str) -> set[str]:
    """Domain errors the handler can raise: `raise <DomainError>(...)` in its domain call and
    in its settings classes (cold start) and, transitively, in every layer function or method
    they call by name. An over-approximation (a call by name may reach a method of another
    class) that misses nothing raised directly."""
    todo: list[ast.AST] = [_source_tree(domain_call(function))]
    todo += [_source_tree(cls) for cls in settings_classes(function)]
    seen: set[int] = set()
    raised: set[str] = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for child in ast.walk(node):
            if isinstance(child, ast.Raise) and isinstance(child.exc, ast.Call):
                name = getattr(child.exc.func, "id", getattr(child.exc.func, "attr", None))
                if name in DOMAIN_ERRORS:
                    raised.add(name)
            elif isinstance(child, ast.Call):
                name = getattr(child.func, "id", getattr(child.func, "attr", None))
                todo += _layer_functions().get(name or "", [])
    return raised
