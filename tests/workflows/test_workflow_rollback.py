"""The RollbackPipeline definition run in the twin's interpreter with scripted functions and a
scripted endpoint (see conftest): the known-good version goes back all at once, is verified and
smoke-tested, and only then audited; every other outcome ends in its own state.

The plan is the sample of events/functions/record_rollback.json, renamed per run.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from mlops_common.models import (
    AcquireEndpointInput,
    OutcomeInput,
    RecordRollbackInput,
    RollbackPlan,
    RollbackPlanInput,
    VerifyDeploymentInput,
)
from workflow_harness import Twin, fresh, raises, returns, sample, turn

PLAN = sample("functions/record_rollback.json")["plan"]
OPERATOR = sample("functions/plan_rollback.json")["request"]
TRIGGERS = [OPERATOR, sample("rules/model_package_rejected.json"),
            sample("rules/alarm_state_change.json")]  # fmt: skip
NOTIFIED = returns({"subject": "s", "message_id": "m", "recorded": True})
AUDITED = returns({"audit_key": "rollback#e", "from_version": 3, "to_version": 2, "rejected": "v3"})
TURN, WAITING = turn(True, "rollback"), turn(False)


def roll_back(twin: Twin, request: Any, plan: dict[str, Any], **script: list[dict]) -> Any:
    functions = {
        "AcquireEndpointFunction": [TURN],
        "PlanRollbackFunction": [returns(RollbackPlan.model_validate(plan).model_dump())],
        "VerifyDeploymentFunction": [
            returns({"endpoint_name": "e", "endpoint_config_name": "c", "status": "InService"})
        ],  # fmt: skip
        "SmokeTestFunction": [
            returns({"endpoint_name": "e", "rows": 3, "predictions": [], "latency_ms": 9.0})
        ],  # fmt: skip
        "ConfigureScalingFunction": [
            returns(
                {
                    "endpoint_name": "e",
                    "variant": "AllTraffic",
                    "action": "prepare",
                    "registered": False,
                    "retain_variant_properties": False,
                }
            )
        ],  # fmt: skip
        "RecordRollbackFunction": [AUDITED],
        "RecordOutcomeFunction": [NOTIFIED],
    }
    return twin.run("RollbackPipeline", request, functions | script)


def notified(run: Any) -> OutcomeInput:
    [outcome] = map(OutcomeInput.model_validate, run.payloads("RecordOutcomeFunction"))
    assert outcome.workflow == "rollback"
    return outcome


@pytest.mark.parametrize("request_", TRIGGERS, ids=["operator", "rejected", "alarm"])
def test_a_rollback_deploys_all_at_once_verifies_smoke_tests_then_audits(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, request_: Any
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["Updating", "InService"])
    plan = fresh(PLAN)
    run = roll_back(twin, request_, plan)
    assert (run.status, run.path) == ("SUCCEEDED", [
        "LoadSettings", "AcquireEndpoint", "EndpointTurn", "PlanRollback", "RollbackAction",
        "CreateModel", "CreateEndpointConfig", "PrepareScaling",
        "UpdateEndpoint", "WaitForEndpoint", "DescribeEndpoint", "EndpointSettled",
        "WaitForEndpoint", "DescribeEndpoint", "EndpointSettled", "VerifyDeployment",
        "SmokeTest", "ConfigureScaling", "RecordRollback", "NotifyRolledBack", "RolledBack",
    ])  # fmt: skip
    [planned] = map(RollbackPlanInput.model_validate, run.payloads("PlanRollbackFunction"))
    assert planned.request == request_
    # All at once: no DeploymentConfig, so alarms already in ALARM cannot stop it.
    config = plan["endpoint_config"]["EndpointConfigName"]
    assert endpoint.requests == [
        ("UpdateEndpoint", {"EndpointConfigName": config, "DeploymentConfig": None,
                            "RetainAllVariantProperties": False})
    ]  # fmt: skip
    [verified] = map(VerifyDeploymentInput.model_validate, run.payloads("VerifyDeploymentFunction"))
    assert verified.reject_on_rollback is False  # never reject the known-good version
    assert verified.endpoint["EndpointStatus"] == "InService"
    [audit] = map(RecordRollbackInput.model_validate, run.payloads("RecordRollbackFunction"))
    assert (audit.plan.from_version, audit.plan.version) == (plan["from_version"], plan["version"])
    assert notified(run).outcome == "ROLLED_BACK"


@pytest.mark.parametrize(
    "action",
    sorted(set(typing.get_args(RollbackPlan.model_fields["action"].annotation)) - {"WAIT"}),
)
def test_every_final_plan_action_ends_in_its_own_state(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = roll_back(twin, OPERATOR, fresh(PLAN, action=action, reason=f"reason for {action}"))
    ends = {
        "ROLLBACK": ("SUCCEEDED", "RolledBack", "ROLLED_BACK"),
        "SKIP": ("SUCCEEDED", "NotNeeded", "SKIPPED"),
        "NOTHING": ("FAILED", "NothingToRollBack", "NOTHING_TO_ROLL_BACK"),
    }
    assert (run.status, run.path[-1], notified(run).outcome) == ends[action]
    assert bool(endpoint.requests) == (action == "ROLLBACK")
    if action == "NOTHING":  # the endpoint keeps its model; the plan says why
        assert (run.error, run.cause) == ("NothingToRollBack", "reason for NOTHING")
        assert "CreateModel" not in run.path


def test_a_rollback_waits_for_its_turn_and_for_a_busy_endpoint_before_it_plans_for_good(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment holds the endpoint once; then the plan finds the endpoint busy once (a
    # change from outside the control plane); then the rollback goes ahead.
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    plan = fresh(PLAN)
    wait = returns(RollbackPlan.model_validate(plan | {"action": "WAIT"}).model_dump())
    go = returns(RollbackPlan.model_validate(plan).model_dump())
    run = roll_back(
        twin, OPERATOR, plan, AcquireEndpointFunction=[WAITING, TURN],
        PlanRollbackFunction=[wait, go],
    )  # fmt: skip
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "RolledBack")
    assert run.path[:11] == [
        "LoadSettings", "AcquireEndpoint", "EndpointTurn", "WaitForTurn", "AcquireEndpoint",
        "EndpointTurn", "PlanRollback", "RollbackAction", "WaitForTurn", "AcquireEndpoint",
        "EndpointTurn",
    ]  # fmt: skip
    asked = [
        AcquireEndpointInput.model_validate(p) for p in run.payloads("AcquireEndpointFunction")
    ]
    assert {a.workflow for a in asked} == {"rollback"} and len(asked) == 3
    assert len(endpoint.requests) == 1
    assert notified(run).state["lock"]["Payload"]["key"] == "lock#endpoint#e"


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("PlanRollbackFunction", "EventMalformed"),
        ("VerifyDeploymentFunction", "DeploymentFailed"),
        ("SmokeTestFunction", "SmokeTestFailed"),
        ("RecordRollbackFunction", "ModelPackageNotFound"),
    ],
)
def test_a_failure_on_the_way_is_the_rollback_s_and_nothing_is_audited_before_it(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, function: str, error: str
) -> None:
    twin.endpoint(monkeypatch, ["InService"])
    run = roll_back(twin, OPERATOR, fresh(PLAN), **{function: [raises(error, "why")]})
    assert (run.status, run.error, json.loads(run.cause)["errorMessage"]) == (
        "FAILED",
        error,
        "why",
    )
    assert run.path[-2:] == ["NotifyFailure", "Failed"]
    # After the update, a failure registers autoscaling again for what the endpoint serves
    restored = function in ("VerifyDeploymentFunction", "SmokeTestFunction")
    assert ("RestoreScaling" in run.path) == restored
    assert notified(run).outcome == "FAILED"
    audited = len(run.payloads("RecordRollbackFunction"))
    assert audited == (function == "RecordRollbackFunction")
