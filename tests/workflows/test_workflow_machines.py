"""The three definitions as the twin runs them: created with every substitution resolved, and
every Task bound to an integration the twin's interpreter implements (moto 5.2.5 plus the
twin's SageMaker integration), not to moto's "unsupported" fallback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asl_model import SUBSTITUTION, all_states, machines
from workflow_harness import Twin

MACHINES = sorted(machines())


@pytest.mark.parametrize("logical", MACHINES)
def test_every_machine_is_created_with_every_substitution_resolved(
    twin: Twin, logical: str
) -> None:
    described = twin.sfn.describe_state_machine(stateMachineArn=twin.machine_arns[logical])
    assert not SUBSTITUTION.search(described["definition"])
    assert json.loads(described["definition"]) == json.loads(twin.definition(logical))


@pytest.mark.parametrize("logical", MACHINES)
def test_every_task_resolves_to_an_integration_the_twin_implements(
    twin: Twin, logical: str
) -> None:
    # moto internals: AmazonStateLanguageParser.parse, Component, CommonStateField and
    # StateTaskServiceUnsupported (the fallback for integrations moto does not implement).
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (  # noqa: E501
        StateTaskServiceUnsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(twin.definition(logical))
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
        if isinstance(node, dict | list | tuple | Component):
            for child in children:
                walk(child)

    walk(program)
    assert set(parsed) == {name for name, _ in all_states(machines()[logical].definition)}
    unsupported = [n for n, cls in parsed.items() if issubclass(cls, StateTaskServiceUnsupported)]
    assert not unsupported, sorted(unsupported)
