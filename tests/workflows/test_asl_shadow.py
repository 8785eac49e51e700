"""The DeployPipeline's shadow test: entered only on the update path, its requests from the plan,
and the one wait loop (WaitForEndpoint -> DescribeEndpoint -> EndpointSettled) shared by the
rollout, the shadow test's start and its end, told apart by `$.phase`.

The Choice states are run by moto 5.2.5's Step Functions interpreter (the one the twin runs),
each alone in a machine whose every target is a Succeed state, so the test reads where it went.
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
from mlops_common.domain.outcome import HEADLINES
from mlops_common.domain.shadow import shadow_test
from mlops_common.settings import DeploySettings
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


# ---- where the shadow test sits ---------------------------------------------------------------


def test_shadow_states_are_the_ones_this_file_checks() -> None:
    assert set(STATES) >= SHADOW_STATES
    assert STATES["ShadowWindow"]["Type"] == "Wait"
    assert STATES["ShadowDiscarded"]["Type"] == "Succeed"


def test_shadow_test_starts_only_on_the_update_path() -> None:
    # Without EndpointExists' endpoint_exists rule, no state that starts a shadow test is reached
    [rule] = STATES["EndpointExists"]["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"], rule["Next"]) == (
        "$.plan.Payload.endpoint_exists",
        True,
        "ShadowFirst",
    )
    without_update_path = _reachable(cut=("EndpointExists", "ShadowFirst"))
    assert {"ShadowFirst", "CreateShadowConfig", "StartShadowTest"}.isdisjoint(without_update_path)
    assert "CreateEndpoint" in without_update_path
    # And on it, only when the plan says so
    [shadow_rule] = STATES["ShadowFirst"]["Choices"]
    assert (shadow_rule["Variable"], shadow_rule["BooleanEquals"]) == (
        "$.plan.Payload.shadow.enabled",
        True,
    )
    assert (shadow_rule["Next"], STATES["ShadowFirst"]["Default"]) == (
        "CreateShadowConfig",
        "ArmLatencyAlarm",
    )
    assert STATES["CreateShadowConfig"]["Next"] == "StartShadowTest"


def test_each_endpoint_change_names_its_phase_before_the_shared_wait_loop() -> None:
    # The rest of the shadow branch is entered from AfterSettled by `$.phase`, which only these
    # states write: a new endpoint's phase is "rollout", so its wait never enters the shadow test
    phases = {
        name: state["ResultSelector"]
        for name, state in STATES.items()
        if state.get("ResultPath") == "$.phase"
    }
    assert phases == {
        "CreateEndpoint": {"value": "rollout"},
        "UpdateEndpoint": {"value": "rollout"},
        "StartShadowTest": {"value": "shadow-start"},
        "EndShadowTest": {"value": "discard"},
    }
    assert {STATES[name]["Next"] for name in phases} == {"WaitForEndpoint"}
    read = {
        rule["StringEquals"]
        for choice in STATES["AfterSettled"]["Choices"]
        for rule in choice.get("And", [choice])
        if rule["Variable"] == "$.phase.value"
    }
    assert read == {"shadow-start", "discard"}


# ---- the shadow test's requests ---------------------------------------------------------------


def _shadow_plan_keys() -> set[str]:
    class LiveConfig:
        def describe_config(self, name: str) -> dict[str, Any]:
            return {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name}]}

    settings = DeploySettings(
        endpoint_name="e", model_package_group="g", sagemaker_role_arn="r",
        error_alarm_name="a", latency_alarm_name="l", artifacts_bucket="b",
    )  # fmt: skip
    rollout = {"EndpointConfigName": "e-v2-x", "Tags": [], "ProductionVariants": [{}]}
    live = {"EndpointConfigName": "e-v1-x"}
    shadow = shadow_test(live, {"endpoint_config": rollout}, settings, LiveConfig(), "x")  # type: ignore[arg-type]
    return set(shadow["endpoint_config"])


def test_create_shadow_config_sends_every_field_of_the_plan_s_shadow_config() -> None:
    create = STATES["CreateShadowConfig"]
    assert create["Resource"] == "arn:aws:states:::sagemaker:createEndpointConfig"
    assert create["Parameters"] == {
        f"{key}.$": f"$.plan.Payload.shadow.endpoint_config.{key}" for key in _shadow_plan_keys()
    }
    assert create["ResultPath"] is None


def test_shadow_test_starts_and_ends_all_at_once_on_the_plan_s_configs() -> None:
    # No DeploymentConfig: the live variant is unchanged, guardrails are for the rollout
    for name in ("StartShadowTest", "EndShadowTest"):
        assert STATES[name]["Resource"] == UPDATE_ENDPOINT, name
    assert STATES["StartShadowTest"]["Parameters"] == {
        "EndpointName.$": "$.plan.Payload.endpoint_name",
        "EndpointConfigName.$": "$.plan.Payload.shadow.endpoint_config.EndpointConfigName",
    }
    assert STATES["EndShadowTest"]["Parameters"] == {
        "EndpointName.$": "$.plan.Payload.endpoint_name",
        "EndpointConfigName.$": "$.plan.Payload.previous_config",
    }


def test_window_then_compare_shadow_with_the_plan_and_the_settled_endpoint() -> None:
    assert STATES["ShadowWindow"] == {
        "Type": "Wait",
        "SecondsPath": "$.plan.Payload.shadow.window_seconds",
        "Next": "CompareShadow",
    }
    compare = STATES["CompareShadow"]
    assert compare["Resource"] == LAMBDA_INVOKE
    payload = compare["Parameters"]["Payload"]
    assert payload == {"plan.$": "$.plan.Payload", "endpoint.$": "$.endpoint"}
    assert (compare["ResultPath"], compare["Next"]) == ("$.shadow_result", "PromoteOrDiscard")
    assert compare["ResultSelector"] == {"Payload.$": "$.Payload"}


def test_discarded_candidate_is_reported_and_succeeds() -> None:
    notify = STATES["NotifyShadowDiscarded"]
    assert notify["Parameters"]["Payload"]["outcome"] == "SHADOW_DISCARDED"
    assert ("deploy", "SHADOW_DISCARDED") in HEADLINES
    assert notify["Next"] == notify["Catch"][-1]["Next"] == "ShadowDiscarded"
    # Every failure on the way goes to the deployment's failure notification
    for name in ("CreateShadowConfig", "StartShadowTest", "CompareShadow", "EndShadowTest"):
        assert STATES[name]["Catch"][-1]["Next"] == "NotifyFailure", name


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
        # the rollout after PROMOTE, done or rolled back to the shadow config: never a 2nd window
        (SHADOW_PLAN, "rollout", "InService", NEW_CONFIG, "VerifyDeployment"),
        (SHADOW_PLAN, "rollout", "InService", SHADOW_CONFIG, "VerifyDeployment"),
        # a plan without a shadow test (no shadow.endpoint_config for StringEqualsPath to read)
        (ROLLOUT_PLAN, "rollout", "InService", NEW_CONFIG, "VerifyDeployment"),
        (ROLLOUT_PLAN, "rollout", "UpdateRollbackFailed", LIVE_CONFIG, "VerifyDeployment"),
    ],
    ids=[
        "shadow-started", "shadow-start-returned", "shadow-start-failed",
        "shadow-start-rollback-failed", "discarded", "promoted-rollout",
        "promoted-rollout-rolled-back", "rollout", "rollout-rollback-failed",
    ],
)  # fmt: skip
def test_after_settled_routes_by_phase_and_endpoint(
    choose: Any, plan: dict, phase: str, status: str, config: str, route: str
) -> None:
    assert choose("AfterSettled", settled(plan, phase, status, config)) == route


@pytest.mark.parametrize(
    ("plan", "route"), [(SHADOW_PLAN, "CreateShadowConfig"), (ROLLOUT_PLAN, "ArmLatencyAlarm")]
)
def test_shadow_first_follows_the_plan(choose: Any, plan: dict, route: str) -> None:
    assert choose("ShadowFirst", {"plan": {"Payload": plan}}) == route


@pytest.mark.parametrize(("decision", "route"), [("PROMOTE", "ArmLatencyAlarm"),
                                                 ("DISCARD", "EndShadowTest")])  # fmt: skip
def test_promote_rolls_out_and_discard_ends_the_shadow_test(
    choose: Any, decision: str, route: str
) -> None:
    state = {"plan": {"Payload": SHADOW_PLAN}, "shadow_result": {"Payload": {"decision": decision}}}
    assert choose("PromoteOrDiscard", state) == route
