"""The DeployPipeline definition run in the twin's interpreter with scripted functions and a
scripted endpoint (see conftest): the plan's requests reach SageMaker and CloudWatch as built,
the wait loop stops exactly on the settled statuses, and each outcome ends where it should.

The plans are the sample plans of events/functions (a rollout without a shadow test in
verify_deployment.json, one with a shadow test in compare_shadow.json), renamed per run.
"""

from __future__ import annotations

import typing
from typing import Any

import botocore.session
import pytest
from mlops_common.models import (
    ABComparison,
    AcquireEndpointInput,
    CompareShadowInput,
    ConfigureScalingInput,
    DeployPlan,
    DeployPlanInput,
    JudgeABTestInput,
    OutcomeInput,
    ShadowComparison,
    SmokeTestInput,
    VerifyDeploymentInput,
)
from workflow_harness import Twin, fresh, raises, returns, sample, turn

APPROVED = sample("rules/model_package_approved.json")
ROLLOUT = sample("functions/verify_deployment.json")["plan"]
SHADOW = sample("functions/compare_shadow.json")["plan"]
AB = sample("functions/judge_ab_test.json")["plan"]
SETTLED = {"InService", "Failed", "UpdateRollbackFailed"}
# Every EndpointStatus DescribeEndpoint may answer (botocore model sagemaker: EndpointStatus).
STATUSES = (
    botocore.session.get_session().get_service_model("sagemaker").shape_for("EndpointStatus").enum
)
NOTIFIED = returns({"subject": "s", "message_id": "m", "recorded": True})
VERIFIED = returns({"endpoint_name": "e", "endpoint_config_name": "c", "status": "InService"})
SMOKE = returns({"endpoint_name": "e", "rows": 3, "predictions": [], "latency_ms": 12.5})
KEPT = returns({"endpoint_name": "e", "variant": "AllTraffic", "action": "prepare",
                "registered": True, "retain_variant_properties": True})  # fmt: skip


def planned(plan: dict[str, Any]) -> dict[str, Any]:
    return returns(DeployPlan.model_validate(plan).model_dump())


def deploy(twin: Twin, plan: dict[str, Any], **script: list[dict[str, Any]]) -> Any:
    functions = {
        "AcquireEndpointFunction": [turn(True)],
        "PlanDeploymentFunction": [planned(plan)],
        "VerifyDeploymentFunction": [VERIFIED],
        "SmokeTestFunction": [SMOKE],
        "ConfigureScalingFunction": [KEPT],
        "RecordOutcomeFunction": [NOTIFIED],
    }
    return twin.run("DeployPipeline", APPROVED, functions | script)


def outcome(run: Any) -> str:
    [notified] = map(OutcomeInput.model_validate, run.payloads("RecordOutcomeFunction"))
    return notified.outcome


ACTIONS = typing.get_args(DeployPlan.model_fields["action"].annotation)
ENDS = {"DEPLOY": ("Deployed", "DEPLOYED"), "SKIP": ("NothingToDeploy", "SKIPPED"),
        "SUPERSEDED": ("Superseded", "SUPERSEDED")}  # fmt: skip


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - {"WAIT"}))
def test_every_final_plan_action_ends_in_its_own_state(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(twin, fresh(ROLLOUT, action=action, endpoint_exists=False))
    assert run.status == "SUCCEEDED"
    assert (run.path[-1], outcome(run)) == ENDS[action]
    assert bool(endpoint.requests) == (action == "DEPLOY")
    [plan_input] = map(DeployPlanInput.model_validate, run.payloads("PlanDeploymentFunction"))
    assert plan_input.event == APPROVED
    # Every end is told to RecordOutcome with the lock this execution holds, which it releases
    [notified] = run.payloads("RecordOutcomeFunction")
    assert notified["state"]["lock"]["Payload"]["key"] == "lock#endpoint#e"


def test_a_plan_that_waits_for_the_endpoint_asks_for_its_turn_again_then_goes_on(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "WAIT" in ACTIONS
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    plan = fresh(ROLLOUT)
    run = deploy(twin, plan, PlanDeploymentFunction=[planned(plan | {"action": "WAIT"}),
                                                     planned(plan)])  # fmt: skip
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    assert run.path[:9] == [
        "LoadSettings", "AcquireEndpoint", "EndpointTurn", "PlanDeployment", "ShouldDeploy",
        "WaitForTurn", "AcquireEndpoint", "EndpointTurn", "PlanDeployment",
    ]  # fmt: skip
    assert len(endpoint.requests) == 1  # only the second plan reached the endpoint


def test_a_deployment_waits_for_its_turn_in_the_history_then_deploys(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another execution holds the endpoint for two polls, then releases it
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(
        twin, fresh(ROLLOUT), AcquireEndpointFunction=[turn(False), turn(False), turn(True)]
    )
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    assert run.path[:9] == [
        "LoadSettings", "AcquireEndpoint", "EndpointTurn", "WaitForTurn", "AcquireEndpoint",
        "EndpointTurn", "WaitForTurn", "AcquireEndpoint", "EndpointTurn",
    ]  # fmt: skip
    assert run.path[9] == "PlanDeployment" and run.path.count("PlanDeployment") == 1
    asked = [
        AcquireEndpointInput.model_validate(p) for p in run.payloads("AcquireEndpointFunction")
    ]
    assert [(a.workflow, a.execution.id) for a in asked] == [
        ("deploy", run.execution["executionArn"])
    ] * 3
    # While waiting nothing was planned, nor asked of the endpoint
    assert run.path.count("WaitForTurn") == 2 and len(endpoint.requests) == 1


def test_an_invalid_deployment_config_fails_the_run_by_name_before_any_sagemaker_call(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(twin, ROLLOUT, PlanDeploymentFunction=[raises("DeploymentConfigInvalid", "x")])
    assert (run.status, run.error) == ("FAILED", "DeploymentConfigInvalid")
    assert run.path == ["LoadSettings", "AcquireEndpoint", "EndpointTurn", "PlanDeployment",
                        "NotifyFailure", "Failed"]  # fmt: skip
    assert endpoint.requests == [] and outcome(run) == "FAILED"


def test_a_new_endpoint_is_created_from_the_plan_without_guardrails(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new endpoint has no old fleet to protect, even with shadow mode on: no shadow test, no
    # alarm, no DeploymentConfig.
    endpoint = twin.endpoint(monkeypatch, ["Creating", "Creating", "InService"])
    plan = fresh(SHADOW, endpoint_exists=False)
    run = deploy(twin, plan)
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    config = plan["endpoint_config"]["EndpointConfigName"]
    assert endpoint.requests == [("CreateEndpoint", {"EndpointConfigName": config})]
    assert "CreateShadowConfig" not in run.path and "ArmLatencyAlarm" not in run.path
    sagemaker = twin.cloud.client("sagemaker")
    model = sagemaker.describe_model(ModelName=plan["model"]["ModelName"])
    assert (
        model["PrimaryContainer"]["ModelDataUrl"]
        == plan["model"]["PrimaryContainer"]["ModelDataUrl"]
    )
    created = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    assert created["ProductionVariants"][0]["ModelName"] == plan["model"]["ModelName"]


def test_an_update_arms_the_plan_s_alarm_then_rolls_out_with_its_deployment_config(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["Updating", "InService"])
    plan = fresh(ROLLOUT)
    run = deploy(twin, plan)
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    config = plan["endpoint_config"]["EndpointConfigName"]
    assert endpoint.requests == [
        ("UpdateEndpoint", {"EndpointConfigName": config, "DeploymentConfig": plan[
            "deployment_config"], "RetainAllVariantProperties": True}),
    ]  # fmt: skip
    # Autoscaling: prepared before the update (which keeps the scaled count), registered after
    # the smoke test
    scaling = [ConfigureScalingInput.model_validate(p) for p in
               run.payloads("ConfigureScalingFunction")]  # fmt: skip
    assert [s.action for s in scaling] == ["prepare", "register"]
    assert all(s.plan.endpoint_config == plan["endpoint_config"] for s in scaling)
    assert run.path.index("PrepareScaling") < run.path.index("UpdateEndpoint")
    assert run.path.index("SmokeTest") < run.path.index("ConfigureScaling")
    # When UpdateEndpoint was called, the alarm was already the plan's.
    [alarms] = endpoint.alarms_at_update
    [alarm] = [a for a in alarms if a["AlarmName"] == plan["latency_alarm"]["AlarmName"]]
    assert {k: alarm[k] for k in plan["latency_alarm"]} == plan["latency_alarm"]
    [verified] = map(VerifyDeploymentInput.model_validate, run.payloads("VerifyDeploymentFunction"))
    assert verified.reject_on_rollback and verified.plan.endpoint_config == plan["endpoint_config"]
    [smoke] = map(SmokeTestInput.model_validate, run.payloads("SmokeTestFunction"))
    assert smoke.plan.model_package_arn == plan["model_package_arn"]


@pytest.mark.parametrize("settled", sorted(SETTLED))
def test_the_wait_loop_polls_until_a_settled_status_and_verifies_that_one(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, settled: str
) -> None:
    polling = sorted(set(STATUSES) - SETTLED)
    assert polling  # Creating, Updating, SystemUpdating, RollingBack, ...
    endpoint = twin.endpoint(monkeypatch, [*polling, settled])
    verdict = {
        "InService": VERIFIED,
        "Failed": raises("DeploymentFailed", "endpoint ended Failed"),
        "UpdateRollbackFailed": raises("UpdateRollbackFailed", "update and rollback failed"),
    }[settled]
    run = deploy(twin, fresh(ROLLOUT), VerifyDeploymentFunction=[verdict])
    assert endpoint.describes == len(polling) + 1
    assert run.path.count("DescribeEndpoint") == len(polling) + 1
    [verified] = run.payloads("VerifyDeploymentFunction")
    assert verified["endpoint"]["EndpointStatus"] == settled
    if settled == "InService":
        assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    else:
        assert (run.status, run.error) == ("FAILED", verdict["raise"])
        assert run.path[-2:] == ["NotifyFailure", "Failed"]
        assert run.payloads("SmokeTestFunction") == []


def test_a_package_failing_provenance_ends_the_run_by_name_with_nothing_created(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    models_before = twin.cloud.client("sagemaker").list_models()["Models"]
    error = raises("ModelProvenanceInvalid", "version 3 fails provenance: model data ...")
    run = deploy(twin, fresh(ROLLOUT), PlanDeploymentFunction=[error])
    assert (run.status, run.error) == ("FAILED", "ModelProvenanceInvalid")
    assert run.path[-3:] == ["PlanDeployment", "NotifyFailure", "Failed"]
    assert endpoint.requests == []
    assert twin.cloud.client("sagemaker").list_models()["Models"] == models_before


@pytest.mark.parametrize(
    "error", ["DeploymentRolledBack", "SmokeTestFailed", "ModelPackageNotFound"]
)
def test_a_failed_verification_or_smoke_test_ends_the_run_under_its_name(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    twin.endpoint(monkeypatch, ["InService"])
    function = (
        "VerifyDeploymentFunction" if error == "DeploymentRolledBack" else "SmokeTestFunction"
    )
    run = deploy(twin, fresh(ROLLOUT), **{function: [raises(error, "why")]})
    assert (run.status, run.error) == ("FAILED", error)
    assert outcome(run) == "FAILED"
    # Autoscaling is registered again for whatever the endpoint serves now
    assert run.path[-3:] == ["RestoreScaling", "NotifyFailure", "Failed"]
    scaling = [ConfigureScalingInput.model_validate(p).action
               for p in run.payloads("ConfigureScalingFunction")]  # fmt: skip
    assert scaling == ["prepare", "register"]


def test_a_failing_scaling_restore_keeps_the_run_s_own_error(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin.endpoint(monkeypatch, ["InService"])
    run = deploy(
        twin,
        fresh(ROLLOUT),
        VerifyDeploymentFunction=[raises("DeploymentRolledBack", "why")],
        ConfigureScalingFunction=[KEPT, raises("AutoScalingConfigInvalid", "min above max")],
    )
    assert (run.status, run.error) == ("FAILED", "DeploymentRolledBack")
    assert run.path[-3:] == ["RestoreScaling", "NotifyFailure", "Failed"]


# ---- shadow test ------------------------------------------------------------------------------


def shadow_plan(twin: Twin) -> dict[str, Any]:
    """The shadow sample plan, renamed, with a 0 s window; its live model exists (the shadow
    config serves it as the production variant, and SageMaker checks it exists)."""
    plan = fresh(SHADOW)
    plan["shadow"]["window_seconds"] = 0
    [live] = plan["shadow"]["endpoint_config"]["ProductionVariants"]
    sagemaker = twin.cloud.client("sagemaker")
    if live["ModelName"] not in {m["ModelName"] for m in sagemaker.list_models()["Models"]}:
        sagemaker.create_model(
            ModelName=live["ModelName"],
            ExecutionRoleArn=plan["model"]["ExecutionRoleArn"],
            PrimaryContainer=plan["model"]["PrimaryContainer"],
        )
    return plan


def judged(decision: str) -> dict[str, Any]:
    """CompareShadow's verdict (ShadowComparison); only `decision` routes the workflow."""
    comparison = ShadowComparison(
        decision=decision, reason="scripted", requests=120, paired=120, agreement=0.99,
        shadow_error_rate=0.0, shadow_latency_ms=4.0, production_latency_ms=4.2,
        latency_ratio=0.95, thresholds={},
    )  # fmt: skip
    return returns(comparison.model_dump(mode="json"))


def test_a_promoted_shadow_test_then_rolls_out_with_guardrails(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = shadow_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(twin, plan, CompareShadowFunction=[judged("PROMOTE")])
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed")
    shadow_config = plan["shadow"]["endpoint_config"]
    assert endpoint.requests == [
        ("UpdateEndpoint", {"EndpointConfigName": shadow_config["EndpointConfigName"],
                            "DeploymentConfig": None, "RetainAllVariantProperties": False}),
        ("UpdateEndpoint", {"EndpointConfigName": plan["endpoint_config"]["EndpointConfigName"],
                            "DeploymentConfig": plan["deployment_config"],
                            "RetainAllVariantProperties": True}),
    ]  # fmt: skip
    [compared] = map(CompareShadowInput.model_validate, run.payloads("CompareShadowFunction"))
    assert compared.endpoint["EndpointConfigName"] == shadow_config["EndpointConfigName"]
    created = twin.cloud.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=shadow_config["EndpointConfigName"]
    )
    assert created["DataCaptureConfig"]["DestinationS3Uri"] == plan["shadow"]["capture_uri"]
    for key in ("ProductionVariants", "ShadowProductionVariants"):
        assert [v["ModelName"] for v in created[key]] == [
            v["ModelName"] for v in shadow_config[key]
        ]
    assert run.path.index("ShadowWindow") < run.path.index("CompareShadow")
    assert run.path.index("CompareShadow") < run.path.index("ArmLatencyAlarm")


def test_a_discarded_shadow_test_returns_to_the_live_config_and_succeeds(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = shadow_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(twin, plan, CompareShadowFunction=[judged("DISCARD")])
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "ShadowDiscarded")
    assert [r[1]["EndpointConfigName"] for r in endpoint.requests] == [
        plan["shadow"]["endpoint_config"]["EndpointConfigName"],
        plan["previous_config"],
    ]
    assert all(r[1]["DeploymentConfig"] is None for r in endpoint.requests)
    assert outcome(run) == "SHADOW_DISCARDED"
    assert run.payloads("VerifyDeploymentFunction") == []


def test_a_shadow_test_that_does_not_start_is_verified_as_a_failed_deployment(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = shadow_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["Failed"])
    run = deploy(twin, plan, VerifyDeploymentFunction=[raises("DeploymentFailed", "Failed")])
    assert (run.status, run.error) == ("FAILED", "DeploymentFailed"), (run.cause, run.path)
    assert "ShadowWindow" not in run.path and len(endpoint.requests) == 1


# ---- A/B test ---------------------------------------------------------------------------------


def ab_plan(twin: Twin) -> dict[str, Any]:
    """The A/B sample plan, renamed; its live model exists (the A/B config serves it as the
    first production variant, and SageMaker checks it exists)."""
    plan = fresh(AB)
    live = plan["ab_test"]["endpoint_config"]["ProductionVariants"][0]
    sagemaker = twin.cloud.client("sagemaker")
    if live["ModelName"] not in {m["ModelName"] for m in sagemaker.list_models()["Models"]}:
        sagemaker.create_model(
            ModelName=live["ModelName"],
            ExecutionRoleArn=plan["model"]["ExecutionRoleArn"],
            PrimaryContainer=plan["model"]["PrimaryContainer"],
        )
    return plan


def ab_judged(decision: str, decided_by: str = "rule") -> dict[str, Any]:
    """JudgeABTest's answer (ABComparison); only `decision` routes the workflow."""
    figures = {"requests": 50, "errors": 0, "error_rate": 0.0, "latency_ms": 4.0}
    comparison = ABComparison(
        decision=decision, decided_by=decided_by, reason="scripted",
        live={"variant": "AllTraffic", "weight_percent": 90, **figures},
        candidate={"variant": "Candidate", "weight_percent": 10, **figures},
        elapsed_seconds=60, window_seconds=3600, thresholds={},
    )  # fmt: skip
    return returns(comparison.model_dump(mode="json"))


def test_an_ab_test_waits_its_window_then_a_promotion_returns_to_live_and_rolls_out_guarded(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = ab_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    looks = [ab_judged("WAIT"), ab_judged("WAIT"), ab_judged("PROMOTE")]
    run = deploy(twin, plan, JudgeABTestFunction=looks)
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "Deployed"), run.path
    ab_config = plan["ab_test"]["endpoint_config"]
    # Guarded rollouts need the same variant names before and after: the A/B config is left
    # for the live config alone (all at once), then the candidate rolls out with guardrails
    # and PrepareScaling keeps the variant's scaled instance count for the model-only rollout
    assert endpoint.requests == [
        ("UpdateEndpoint", {"EndpointConfigName": ab_config["EndpointConfigName"],
                            "DeploymentConfig": None, "RetainAllVariantProperties": False}),
        ("UpdateEndpoint", {"EndpointConfigName": plan["previous_config"],
                            "DeploymentConfig": None, "RetainAllVariantProperties": False}),
        ("UpdateEndpoint", {"EndpointConfigName": plan["endpoint_config"]["EndpointConfigName"],
                            "DeploymentConfig": plan["deployment_config"],
                            "RetainAllVariantProperties": True}),
    ]  # fmt: skip
    assert run.path.count("ABPoll") == 3 and run.path.count("JudgeABTest") == 3
    judged = [JudgeABTestInput.model_validate(p) for p in run.payloads("JudgeABTestFunction")]
    assert {j.endpoint["EndpointConfigName"] for j in judged} == {ab_config["EndpointConfigName"]}
    assert {j.execution.id for j in judged} == {run.execution["executionArn"]}
    created = twin.cloud.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=ab_config["EndpointConfigName"]
    )
    weights = [(v["VariantName"], v["InitialVariantWeight"]) for v in created["ProductionVariants"]]
    assert weights == [("AllTraffic", 90.0), ("Candidate", 10.0)]
    assert created["DataCaptureConfig"]["DestinationS3Uri"] == plan["ab_test"]["capture_uri"]
    assert run.path.index("ABPromoting") < run.path.index("ArmLatencyAlarm")


@pytest.mark.parametrize("decided_by", ["rule", "arn:aws:iam::123456789012:user/ops"])
def test_a_stopped_ab_test_returns_to_the_live_config_and_ends_ab_test_stopped(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, decided_by: str
) -> None:
    plan = ab_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    run = deploy(twin, plan, JudgeABTestFunction=[ab_judged("WAIT"), ab_judged("STOP", decided_by)])
    assert (run.status, run.path[-1]) == ("SUCCEEDED", "ABTestStopped"), run.path
    assert [r[1]["EndpointConfigName"] for r in endpoint.requests] == [
        plan["ab_test"]["endpoint_config"]["EndpointConfigName"],
        plan["previous_config"],
    ]
    assert all(r[1]["DeploymentConfig"] is None for r in endpoint.requests)
    assert outcome(run) == "AB_TEST_STOPPED"
    [notified] = run.payloads("RecordOutcomeFunction")
    assert notified["state"]["ab_result"]["Payload"]["decided_by"] == decided_by
    assert run.payloads("VerifyDeploymentFunction") == []
    assert "ArmLatencyAlarm" not in run.path


def test_an_ab_test_that_cannot_return_to_the_live_config_fails_by_name(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = ab_plan(twin)
    endpoint = twin.endpoint(monkeypatch, ["InService"])
    original = endpoint.describe

    def stuck(name: str) -> dict[str, Any]:  # the endpoint stays on the A/B config
        described = original(name)
        if len(endpoint.requests) > 1:
            described["EndpointConfigName"] = plan["ab_test"]["endpoint_config"][
                "EndpointConfigName"
            ]
        return described

    monkeypatch.setattr(twin.cloud.hosting, "describe_endpoint", stuck)
    run = deploy(twin, plan, JudgeABTestFunction=[ab_judged("STOP")])
    assert (run.status, run.error) == ("FAILED", "DeploymentFailed"), run.path
    assert "ABEndFailed" in run.path and "ending the A/B test left" in run.cause
