"""The DeployPipeline's Choice states around its shadow test, on every combination that matters:
one wait loop (WaitForEndpoint -> DescribeEndpoint -> EndpointSettled) serves the rollout, the
shadow test's start and its end, told apart by `$.phase` and the endpoint's config.

Each Choice is run by moto 5.2.5's Step Functions interpreter (the one the twin runs), alone in a
machine whose every target is a Succeed state, so the test reads where it went. Whole runs
through these states are in test_workflow_deploy.py.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
UPDATE_ENDPOINT = "arn:aws:states:::sagemaker:updateEndpoint"
DEPLOY = json.loads((ROOT / "statemachines" / "deploy_pipeline.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = DEPLOY["States"]
SHADOW_STATES = {
    "ShadowFirst", "CreateShadowConfig", "StartShadowTest", "ShadowWindow", "CompareShadow",
    "PromoteOrDiscard", "EndShadowTest", "NotifyShadowDiscarded", "ShadowDiscarded",
}  # fmt: skip


def _load(relative: str) -> Any:
    return json.loads((ROOT / "events" / relative).read_text(encoding="utf-8"))


def _targets(state: dict[str, Any]) -> set[str]:
    found = {state[k] for k in ("Next", "Default") if k in state}
    found |= {rule["Next"] for rule in state.get("Choices", [])}
    return found | {catcher["Next"] for catcher in state.get("Catch", [])}


def _reachable(cut: tuple[str, str] | None = None) -> set[str]:
    """States reachable from StartAt, without the transition `cut` (source, target)."""
    seen, todo = set(), [DEPLOY["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [t for t in _targets(STATES[name]) if (name, t) != cut]
    return seen


# ---- the Choice states, run by moto's interpreter ---------------------------------------------


@pytest.fixture
def choose(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, dict[str, Any]], str]]:
    """choose("AfterSettled", state) -> the state the Choice moves to on that input."""
    for name in list(os.environ):  # the twin's endpoint would bypass moto's interception
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    counter = itertools.count()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name=REGION)

        def run(choice: str, state_input: dict[str, Any]) -> str:
            states = {t: {"Type": "Succeed"} for t in _targets(STATES[choice])}
            definition = {"StartAt": choice, "States": {choice: STATES[choice], **states}}
            machine = sfn.create_state_machine(
                name=f"{choice}-{next(counter)}",
                definition=json.dumps(definition),
                roleArn="arn:aws:iam::123456789012:role/sfn",
            )["stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(state_input))
            arn = execution["executionArn"]
            deadline = time.monotonic() + 10
            while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                assert time.monotonic() < deadline, f"{choice} still running"
                time.sleep(0.01)
            events = sfn.get_execution_history(executionArn=arn)["events"]
            assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED", events
            [entered] = [
                e["stateEnteredEventDetails"]["name"]
                for e in events
                if e["type"] == "SucceedStateEntered"
            ]
            return entered

        yield run


SHADOW_PLAN = _load("functions/compare_shadow.json")["plan"]  # a plan with a shadow test
ROLLOUT_PLAN = _load("functions/verify_deployment.json")["plan"]  # a plan without one
SHADOW_CONFIG = SHADOW_PLAN["shadow"]["endpoint_config"]["EndpointConfigName"]
NEW_CONFIG = SHADOW_PLAN["endpoint_config"]["EndpointConfigName"]
LIVE_CONFIG = SHADOW_PLAN["previous_config"]


def settled(plan: dict, phase: str, status: str, config: str) -> dict[str, Any]:
    """The DeployPipeline's state when EndpointSettled exits to AfterSettled."""
    return {
        "settings": {"poll_seconds": 30},
        "plan": {"Payload": plan},
        "phase": {"value": phase},
        "endpoint": {"EndpointName": plan["endpoint_name"], "EndpointStatus": status,
                     "EndpointConfigName": config},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("plan", "phase", "status", "config", "route"),
    [
        (SHADOW_PLAN, "shadow-start", "InService", SHADOW_CONFIG, "ShadowWindow"),
        # the shadow test did not start (update failed and returned, or broke the endpoint):
        # VerifyDeployment reports it as the failed deployment of the candidate
        (SHADOW_PLAN, "shadow-start", "InService", LIVE_CONFIG, "VerifyDeployment"),
        (SHADOW_PLAN, "shadow-start", "Failed", SHADOW_CONFIG, "VerifyDeployment"),
        (SHADOW_PLAN, "shadow-start", "UpdateRollbackFailed", SHADOW_CONFIG, "VerifyDeployment"),
        (SHADOW_PLAN, "discard", "InService", LIVE_CONFIG, "NotifyShadowDiscarded"),
        # ending the shadow test did not bring the live config back alone
        (SHADOW_PLAN, "discard", "InService", SHADOW_CONFIG, "ShadowEndFailed"),
        (SHADOW_PLAN, "discard", "Failed", LIVE_CONFIG, "ShadowEndFailed"),
        # the rollout after PROMOTE, done or rolled back to the shadow config: never a 2nd window
        (SHADOW_PLAN, "rollout", "InService", NEW_CONFIG, "VerifyDeployment"),
        (SHADOW_PLAN, "rollout", "InService", SHADOW_CONFIG, "VerifyDeployment"),
        # a plan without a shadow test (no shadow.endpoint_config for StringEqualsPath to read)
        (ROLLOUT_PLAN, "rollout", "InService", NEW_CONFIG, "VerifyDeployment"),
        (ROLLOUT_PLAN, "rollout", "UpdateRollbackFailed", LIVE_CONFIG, "VerifyDeployment"),
    ],
    ids=[
        "shadow-started", "shadow-start-returned", "shadow-start-failed",
        "shadow-start-rollback-failed", "discarded", "discard-left-shadow", "discard-failed",
        "promoted-rollout",
        "promoted-rollout-rolled-back", "rollout", "rollout-rollback-failed",
    ],
)  # fmt: skip
def test_after_settled_routes_by_phase_and_endpoint(
    choose: Any, plan: dict, phase: str, status: str, config: str, route: str
) -> None:
    assert choose("AfterSettled", settled(plan, phase, status, config)) == route


@pytest.mark.parametrize(
    ("plan", "route"), [(SHADOW_PLAN, "CreateShadowConfig"), (ROLLOUT_PLAN, "PrepareScaling")]
)
def test_shadow_first_follows_the_plan(choose: Any, plan: dict, route: str) -> None:
    assert choose("ShadowFirst", {"plan": {"Payload": plan}}) == route


@pytest.mark.parametrize(("decision", "route"), [("PROMOTE", "PrepareScaling"),
                                                 ("DISCARD", "EndShadowTest")])  # fmt: skip
def test_promote_rolls_out_and_discard_ends_the_shadow_test(
    choose: Any, decision: str, route: str
) -> None:
    state = {"plan": {"Payload": SHADOW_PLAN}, "shadow_result": {"Payload": {"decision": decision}}}
    assert choose("PromoteOrDiscard", state) == route
