"""Variables in action configuration ("Variables reference", CodePipeline user guide): an
action's output variables are referenced as #{Namespace.VariableName} by actions after it,
pipeline-level variables as #{variables.Name}, and the execution id as
#{codepipeline.PipelineExecutionId}. A reference that cannot be resolved fails the action."""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


class UnresolvedVariable(ValueError):
    """The message names the reference."""


def resolve(value: str, namespaces: Mapping[str, Mapping[str, str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        namespace, name = match.group(1), match.group(2)
        try:
            return str(namespaces[namespace][name])
        except KeyError:
            raise UnresolvedVariable(
                f"Unable to resolve the variable #{{{namespace}.{name}}}: no such "
                f"{'namespace' if namespace not in namespaces else 'variable'} "
                "has been produced before this action"
            ) from None

    return _REFERENCE.sub(replace, value)


def resolve_configuration(
    configuration: Mapping[str, str], namespaces: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    return {key: resolve(str(value), namespaces) for key, value in configuration.items()}
