"""The paths of guarded deployments through the ASL: the DeployPipeline arms the new-fleet alarm
and hands UpdateEndpoint its DeploymentConfig; the RollbackPipeline deploys the known-good
version all at once, verifies and smoke-tests it, and only then audits and rejects.

The generic checks (substitutions, transitions, retriers, catches, terminal notification,
polling) run on every definition in test_asl_definitions.py."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

from mlops_common.domain.outcome import HEADLINES
from mlops_common.domain.strategy import new_fleet_latency_alarm
from mlops_common.errors import DOMAIN_ERROR_NAMES
from mlops_common.models import RollbackPlan

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _states(name: str) -> dict[str, dict[str, Any]]:
    path = ROOT / "statemachines" / f"{name}.asl.json"
    return json.loads(path.read_text(encoding="utf-8"))["States"]


DEPLOY = _states("deploy_pipeline")
ROLLBACK = _states("rollback_pipeline")


def _lambda_payload(state: dict[str, Any]) -> dict[str, Any]:
    assert state["Resource"] == LAMBDA_INVOKE
    return state["Parameters"]["Payload"]


def _entered_by(states: dict[str, dict[str, Any]], target: str) -> set[str]:
    """States that move to `target` other than by a Catch."""
    return {
        name
        for name, state in states.items()
        if state.get("Next") == target
        or state.get("Default") == target
        or any(rule["Next"] == target for rule in state.get("Choices", []))
    }


# ---- DeployPipeline ---------------------------------------------------------------------------


def test_update_endpoint_gets_the_plan_s_deployment_config() -> None:
    assert DEPLOY["UpdateEndpoint"]["Resource"] == "arn:aws:states:::sagemaker:updateEndpoint"
    assert DEPLOY["UpdateEndpoint"]["Parameters"] == {
        "EndpointName.$": "$.plan.Payload.endpoint_name",
        "EndpointConfigName.$": "$.plan.Payload.endpoint_config.EndpointConfigName",
        "DeploymentConfig.$": "$.plan.Payload.deployment_config",
    }


def test_latency_alarm_is_armed_before_update_endpoint_on_the_update_path() -> None:
    # The Choice on endpoint_exists leads, through ShadowFirst, to ArmLatencyAlarm: directly
    # without a shadow test, after PromoteOrDiscard with one. It is the only way into UpdateEndpoint
    [choice] = [n for n, s in DEPLOY.items() if s["Type"] == "Choice" and "Default" in s
                and s["Default"] == "CreateEndpoint"]  # fmt: skip
    [rule] = DEPLOY[choice]["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"]) == ("$.plan.Payload.endpoint_exists", True)
    assert rule["Next"] == "ShadowFirst"
    assert _entered_by(DEPLOY, "ShadowFirst") == {choice}
    assert DEPLOY["ShadowFirst"]["Default"] == "ArmLatencyAlarm"
    [promote] = DEPLOY["PromoteOrDiscard"]["Choices"]
    assert (promote["StringEquals"], promote["Next"]) == ("PROMOTE", "ArmLatencyAlarm")
    assert DEPLOY["ArmLatencyAlarm"]["Next"] == "UpdateEndpoint"
    assert _entered_by(DEPLOY, "UpdateEndpoint") == {"ArmLatencyAlarm"}
    assert _entered_by(DEPLOY, "ArmLatencyAlarm") == {"ShadowFirst", "PromoteOrDiscard"}
    # A new endpoint has no old fleet to protect: CreateEndpoint is not preceded by the alarm
    assert _entered_by(DEPLOY, "CreateEndpoint") == {choice}
    assert "DeploymentConfig.$" not in DEPLOY["CreateEndpoint"]["Parameters"]


def test_arm_latency_alarm_sends_every_field_of_the_plan_s_alarm_request() -> None:
    arm = DEPLOY["ArmLatencyAlarm"]
    assert arm["Resource"] == "arn:aws:states:::aws-sdk:cloudwatch:putMetricAlarm"
    fields = new_fleet_latency_alarm("a", "e", "v", "c", 1.0, 60, 1)
    assert arm["Parameters"] == {
        f"{key}.$": f"$.plan.Payload.latency_alarm.{key}" for key in fields
    }
    assert arm["ResultPath"] is None  # the plan stays as it is for the states that follow


# ---- RollbackPipeline -------------------------------------------------------------------------


def test_rollback_starts_from_the_execution_input() -> None:
    assert ROLLBACK["PlanRollback"]["Next"] == "RollbackAction"
    assert _lambda_payload(ROLLBACK["PlanRollback"]) == {
        "request.$": "$$.Execution.Input",
        "execution.$": "$$.Execution",
    }
    assert ROLLBACK["PlanRollback"]["ResultPath"] == "$.plan"


def test_every_plan_action_has_its_own_path() -> None:
    choice = ROLLBACK["RollbackAction"]
    routes = {rule["StringEquals"]: rule["Next"] for rule in choice["Choices"]}
    assert {rule["Variable"] for rule in choice["Choices"]} == {"$.plan.Payload.action"}
    actions = set(typing.get_args(RollbackPlan.model_fields["action"].annotation))
    assert actions == {"ROLLBACK", "NOTHING", "SKIP"}
    assert routes == {"ROLLBACK": "CreateModel", "NOTHING": "NotifyNothingToRollBack"}
    assert choice["Default"] == "NotifySkipped"  # SKIP


def test_nothing_to_roll_back_fails_with_the_plan_s_reason_and_touches_nothing() -> None:
    notify = ROLLBACK["NotifyNothingToRollBack"]
    assert _lambda_payload(notify)["outcome"] == "NOTHING_TO_ROLL_BACK"
    assert notify["Next"] == notify["Catch"][-1]["Next"] == "NothingToRollBack"
    fail = ROLLBACK["NothingToRollBack"]
    assert fail == {
        "Type": "Fail",
        "Error": "NothingToRollBack",
        "CausePath": "$.plan.Payload.reason",
        "Comment": fail["Comment"],
    }
    assert fail["Error"] in DOMAIN_ERROR_NAMES


def test_skip_succeeds_after_its_notification() -> None:
    notify = ROLLBACK["NotifySkipped"]
    assert _lambda_payload(notify)["outcome"] == "SKIPPED"
    assert ROLLBACK[notify["Next"]]["Type"] == "Succeed"


def test_rollback_path_deploys_verifies_smoke_tests_then_audits() -> None:
    path, name = [], "CreateModel"
    while ROLLBACK[name]["Type"] != "Succeed":
        path.append(name)
        state = ROLLBACK[name]
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state["Next"]
    assert path == [
        "CreateModel",
        "CreateEndpointConfig",
        "UpdateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "EndpointSettled",
        "VerifyDeployment",
        "SmokeTest",
        "RecordRollback",
        "NotifyRolledBack",
    ]
    assert name == "RolledBack"
    assert _lambda_payload(ROLLBACK["NotifyRolledBack"])["outcome"] == "ROLLED_BACK"


def test_rollback_update_is_all_at_once() -> None:
    # No DeploymentConfig: production returns to the known-good model without bakes, and the
    # stack's alarms (possibly in ALARM already) cannot stop it.
    assert ROLLBACK["UpdateEndpoint"]["Parameters"] == {
        "EndpointName.$": "$.plan.Payload.endpoint_name",
        "EndpointConfigName.$": "$.plan.Payload.endpoint_config.EndpointConfigName",
    }


def test_rollback_verification_does_not_reject_the_known_good_version() -> None:
    assert _lambda_payload(ROLLBACK["VerifyDeployment"]) == {
        "plan.$": "$.plan.Payload",
        "endpoint.$": "$.endpoint",
        "reject_on_rollback": False,
    }
    assert _lambda_payload(ROLLBACK["SmokeTest"]) == {"plan.$": "$.plan.Payload"}


def test_record_rollback_gets_the_plan_and_the_execution() -> None:
    assert _lambda_payload(ROLLBACK["RecordRollback"]) == {
        "plan.$": "$.plan.Payload",
        "execution.$": "$$.Execution",
    }
    assert ROLLBACK["RecordRollback"]["ResultPath"] == "$.rollback"
    # Any failure on the way (update, verify, smoke test, audit) is reported as the rollback's
    for name in ("CreateModel", "UpdateEndpoint", "VerifyDeployment", "SmokeTest"):
        assert ROLLBACK[name]["Catch"][-1]["Next"] == "NotifyFailure", name


def test_every_rollback_notification_is_of_the_rollback_workflow() -> None:
    notifications = [
        _lambda_payload(s)
        for s in ROLLBACK.values()
        if s.get("Parameters", {}).get("FunctionName") == "${RecordOutcomeFunctionArn}"
    ]
    assert {(p["workflow"], p["outcome"]) for p in notifications} == {
        ("rollback", "SKIPPED"),
        ("rollback", "NOTHING_TO_ROLL_BACK"),
        ("rollback", "ROLLED_BACK"),
        ("rollback", "FAILED"),
    }
    assert {("rollback", "ROLLED_BACK"), ("rollback", "NOTHING_TO_ROLL_BACK")} <= set(HEADLINES)
