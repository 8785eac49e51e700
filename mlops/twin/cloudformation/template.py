"""Reads template.yaml the way CloudFormation would: SAM transform, parameters, conditions,
intrinsic functions. The twin provisions from the result, so there is no second description
of the stack.

The SAM transform itself is the AWS library (aws-sam-translator). Only the YAML short-form tags
and the intrinsic-function evaluation are ours: the libraries that do them are bound to a
CloudFormation service (moto's) or to sam-cli's build flow, neither of which fits here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

LOCAL_CODE_BUCKET = "twin-local-code"
NO_VALUE = object()


class TemplateError(Exception):
    """The template uses something the twin cannot evaluate; names the construct."""


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def sam_transform(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict:
    """SAM -> CloudFormation. Local CodeUri/ContentUri/DefinitionUri become placeholder S3
    locations (what `sam package` would upload), mapped back by `local_path`."""
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://{LOCAL_CODE_BUCKET}/{props[key].rstrip('/')}"
        definition = props.get("DefinitionUri")
        if isinstance(definition, str) and not definition.startswith("s3://"):
            props["DefinitionUri"] = {"Bucket": LOCAL_CODE_BUCKET, "Key": definition}
    # The translator asks IAM for managed policy names only if Policies name one; ours don't.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    return translator.translate(
        template, parameter_values=dict(parameters), get_managed_policy_map=lambda: {}
    )


# (bucket, key) of code `sam package` uploaded -> where it lies on this machine
CodeFetcher = Callable[[str, str], Path]


def local_path(root: Path, location: dict[str, Any], fetch: CodeFetcher | None = None) -> Path:
    """The directory or file a code location names: local code under `root`, or packaged
    code (an S3 object) made local by `fetch` (codepipeline/stack_deploy.py's)."""
    bucket = location.get("S3Bucket") or location.get("Bucket")
    key = location.get("S3Key") or location.get("Key")
    if bucket == LOCAL_CODE_BUCKET:
        return root / str(key)
    if fetch is None:
        raise TemplateError(f"the twin runs local code only, got s3://{bucket}/{key}")
    return fetch(str(bucket), str(key))


@dataclass
class Context:
    """Values intrinsic functions resolve against while resources are being created."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    conditions: dict[str, bool] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)


def resolve_parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:  # CloudFormation refuses them too, naming them
        raise TemplateError(f"Parameters: {unknown} do not exist in the template")
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
        allowed = spec.get("AllowedValues")
        if allowed and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} not in {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, str(value)):
            raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
        if spec.get("Type") == "CommaDelimitedList":
            # "An array of literal strings that are separated by commas ... each member string
            # is space trimmed" (CloudFormation user guide, Parameters: Type).
            values[name] = (
                [v.strip() for v in value.split(",")] if isinstance(value, str) else value
            )
        else:
            values[name] = str(value)
    return values


def evaluate(value: Any, ctx: Context) -> Any:
    """Evaluates intrinsic functions in `value`; AWS::NoValue entries are removed."""
    if isinstance(value, list):
        return [v for v in (evaluate(v, ctx) for v in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return _ref(arg, ctx)
        if key == "Condition":
            return ctx.conditions[arg]
        if key.startswith("Fn::"):
            return _function(key[4:], arg, ctx)
    out = {}
    for k, v in value.items():
        resolved = evaluate(v, ctx)
        if resolved is not NO_VALUE:
            out[k] = resolved
    return out


def _ref(name: str, ctx: Context) -> Any:
    if name == "AWS::NoValue":
        return NO_VALUE
    for source in (ctx.pseudo, ctx.parameters, ctx.refs):
        if name in source:
            return source[name]
    raise TemplateError(f"Ref {name}: unknown or not created yet")


def _getatt(logical: str, attribute: str, ctx: Context) -> Any:
    try:
        return ctx.attributes[logical][attribute]
    except KeyError:
        raise TemplateError(f"GetAtt {logical}.{attribute}: not available in the twin") from None


_SUB = re.compile(r"\$\{([^}!]+)\}")


def _sub(arg: Any, ctx: Context) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], evaluate(arg[1], ctx))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            return str(_getatt(*name.split(".", 1), ctx))
        return str(_ref(name, ctx))

    return _SUB.sub(replace, text).replace("${!", "${")


def _function(name: str, arg: Any, ctx: Context) -> Any:
    if name == "GetAtt":
        logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return _getatt(logical, attribute, ctx)
    if name == "Sub":
        return _sub(arg, ctx)
    if name == "If":
        cond, yes, no = arg
        return evaluate(yes if ctx.conditions[cond] else no, ctx)
    values = evaluate(arg, ctx)
    simple = {
        "Join": lambda: values[0].join(str(v) for v in values[1]),
        "Equals": lambda: str(values[0]) == str(values[1]),
        "Not": lambda: not values[0],
        "And": lambda: all(values),
        "Or": lambda: any(values),
        "Select": lambda: values[1][int(values[0])],
        "Split": lambda: values[1].split(values[0]),
        "ToJsonString": lambda: json.dumps(values),
        "GetAZs": lambda: [f"{ctx.pseudo['AWS::Region']}{z}" for z in "abc"],
    }
    if name not in simple:
        raise TemplateError(f"Fn::{name} is not supported by the twin")
    return simple[name]()


def dependencies(resource: dict[str, Any]) -> set[str]:
    """Logical ids a resource refers to (Ref, GetAtt, ${X} in Sub, DependsOn)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Ref" and isinstance(v, str):
                    found.add(v)
                elif k == "Fn::GetAtt":
                    found.add(v[0] if isinstance(v, list) else v.split(".")[0])
                elif k == "Fn::Sub":
                    text = v if isinstance(v, str) else v[0]
                    found.update(m.split(".")[0] for m in _SUB.findall(text))
                walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource.get("Properties", {}))
    depends = resource.get("DependsOn", [])
    found.update([depends] if isinstance(depends, str) else depends)
    return {d for d in found if not d.startswith("AWS::")}


def creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Logical ids, each after every resource it depends on (dependencies outside the
    template, such as parameters, do not count)."""
    graph = TopologicalSorter()
    for name in sorted(resources):
        graph.add(name, *sorted(d for d in dependencies(resources[name]) if d in resources))
    try:
        return list(graph.static_order())
    except CycleError as error:
        cycle = error.args[1]
        raise TemplateError(f"circular dependency: {' -> '.join(cycle)}") from None
