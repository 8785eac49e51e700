"""The template's Rules, checked before anything is created, as CloudFormation checks them.

"Template rules" in the AWS CloudFormation User Guide: a rule applies when its RuleCondition
holds (or it has none); then every Assertions entry must hold, or the stack is refused with the
entry's AssertDescription. Conditions and assertions use the rule-specific intrinsic functions;
the twin evaluates the ones that need only parameter values (Fn::And, Fn::Contains,
Fn::EachMemberEquals, Fn::EachMemberIn, Fn::Equals, Fn::Not, Fn::Or, Ref) and refuses the
others (Fn::ValueOf, Fn::RefAll ... read AWS-specific parameter types) by name.
"""

from __future__ import annotations

from typing import Any

from mlops.twin.cloudformation.template import TemplateError


class RuleFailed(TemplateError):
    """An assertion of the template's Rules does not hold for these parameter values."""


def check_rules(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _truth(rule["RuleCondition"], parameters, name):
            continue
        for assertion in rule.get("Assertions", []):
            if not _truth(assertion["Assert"], parameters, name):
                description = assertion.get("AssertDescription", "an assertion does not hold")
                raise RuleFailed(f"rule {name}: {description}")


def _truth(node: Any, parameters: dict[str, Any], rule: str) -> bool:
    value = _value(node, parameters, rule)
    if not isinstance(value, bool):
        raise TemplateError(f"rule {rule}: {node!r} is not a condition")
    return value


def _value(node: Any, parameters: dict[str, Any], rule: str) -> Any:
    if isinstance(node, list):
        return [_value(item, parameters, rule) for item in node]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"]:
        if node["Ref"] not in parameters:
            raise TemplateError(f"rule {rule}: Ref {node['Ref']} is not a parameter")
        return parameters[node["Ref"]]
    if len(node) != 1 or not next(iter(node)).startswith("Fn::"):
        return {k: _value(v, parameters, rule) for k, v in node.items()}
    ((key, arg),) = node.items()
    args = _value(arg, parameters, rule)
    function = key[4:]
    if function == "Equals":
        return str(args[0]) == str(args[1])
    if function == "Not":
        return not _condition(args[0], rule)
    if function == "And":
        return all(_condition(a, rule) for a in args)
    if function == "Or":
        return any(_condition(a, rule) for a in args)
    if function == "Contains":  # [list of strings, a string]
        return str(args[1]) in [str(item) for item in args[0]]
    if function == "EachMemberEquals":  # [list of strings, a string]
        return all(str(item) == str(args[1]) for item in _members(args[0]))
    if function == "EachMemberIn":  # [strings to check, strings they must be among]
        allowed = [str(item) for item in _members(args[1])]
        return all(str(item) in allowed for item in _members(args[0]))
    raise TemplateError(f"rule {rule}: Fn::{function} is not supported by the twin")


def _condition(value: Any, rule: str) -> bool:
    if not isinstance(value, bool):
        raise TemplateError(f"rule {rule}: {value!r} is not a condition")
    return value


def _members(value: Any) -> list[Any]:
    """A CommaDelimitedList parameter arrives as a list; a plain string as one member."""
    return value if isinstance(value, list) else [value]
