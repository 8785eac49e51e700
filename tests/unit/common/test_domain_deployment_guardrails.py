"""Guarded deployments: plan_deployment's DeploymentConfig and latency alarm, and
verify_deployment for a rollback that must not reject (the RollbackPipeline's own update)."""

from typing import Any

import pytest
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain import strategy
from mlops_common.domain.deployment import plan_deployment, resource_name, verify_deployment
from mlops_common.errors import DeploymentConfigInvalid, DeploymentRolledBack
from mlops_common.models import DeploymentTarget, DeployPlan, Execution
from mlops_common.settings import DeploySettings

ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENDPOINT = "mlops-endpoint"
ERROR_ALARM = "mlops-endpoint-5xx"
LATENCY_ALARM = "mlops-new-fleet-latency"
SETTINGS = DeploySettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn=ROLE,
    error_alarm_name=ERROR_ALARM,
    latency_alarm_name=LATENCY_ALARM,
    artifacts_bucket="mlops-artifacts",
    inference_image_uri=IMAGE,
)
EXECUTION = Execution(
    Name="deploy-2", Id="arn:aws:states:us-east-1:123456789012:execution:deploy:deploy-2"
)
#: The settings' defaults: CANARY 25 %, 300 s bakes, 120 s termination wait, 3600 s timeout.
CANARY_DEFAULTS = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 300,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        },
        "TerminationWaitInSeconds": 120,
        "MaximumExecutionTimeoutInSeconds": 3600,
    },
    "AutoRollbackConfiguration": {
        "Alarms": [{"AlarmName": ERROR_ALARM}, {"AlarmName": LATENCY_ALARM}]
    },
}
INVALID = {"deployment_strategy": "LINEAR", "linear_step_percent": 5, "bake_seconds": 4000}
INVALID_MESSAGE = "linear step 5% must be 10-50% of the fleet; bake time 4000 s must be 0-3600 s"


def invalid_settings() -> DeploySettings:
    return SETTINGS.model_copy(update=INVALID)


def test_update_plan_carries_the_deployment_config_and_the_rollout_s_latency_alarm(
    world: Any, endpoint: Any
) -> None:
    # Given v1 is live and v2 was just approved
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    live = resource_name(ENDPOINT, 1, "deploy-1")
    # When
    result = plan_deployment(
        world.package_event(v2, 2), EXECUTION, SETTINGS, world.registry(),
        endpoint.present("InService", live), world.store(),
    )  # fmt: skip
    # Then UpdateEndpoint gets the stack's strategy with both rollback alarms
    assert (result.action, result.endpoint_exists) == ("DEPLOY", True)
    assert result.deployment_config == CANARY_DEFAULTS
    # And the latency alarm watches the config this plan creates, not the live one
    new_config = result.endpoint_config["EndpointConfigName"]
    assert new_config == resource_name(ENDPOINT, 2, "deploy-2") != live
    assert result.latency_alarm == strategy.new_fleet_latency_alarm(
        LATENCY_ALARM, ENDPOINT, "AllTraffic", new_config, 500_000.0, 60, 1
    )
    assert {"Name": "EndpointConfigName", "Value": new_config} in result.latency_alarm["Dimensions"]


def test_first_deployment_plan_carries_them_too(world: Any, endpoint: Any) -> None:
    [v1] = [world.create_package("Approved")]
    result = plan_deployment(
        world.package_event(v1, 1),
        EXECUTION,
        SETTINGS,
        world.registry(),
        endpoint.absent(),
        world.store(),
    )
    assert (result.action, result.endpoint_exists) == ("DEPLOY", False)
    assert result.deployment_config == CANARY_DEFAULTS
    dimensions = {d["Name"]: d["Value"] for d in result.latency_alarm["Dimensions"]}
    assert dimensions == {
        "EndpointName": ENDPOINT,
        "VariantName": "AllTraffic",
        "EndpointConfigName": result.endpoint_config["EndpointConfigName"],
    }


def test_strategy_settings_shape_the_deployment_config(world: Any, endpoint: Any) -> None:
    v1 = world.create_package("Approved")
    settings = SETTINGS.model_copy(
        update={"deployment_strategy": "LINEAR", "linear_step_percent": 50, "bake_seconds": 30,
                "termination_wait_seconds": 0, "max_execution_timeout_seconds": 600,
                "latency_threshold_us": 80_000.0, "alarm_period_seconds": 10,
                "alarm_evaluation_periods": 3}
    )  # fmt: skip
    result = plan_deployment(
        world.package_event(v1, 1),
        EXECUTION,
        settings,
        world.registry(),
        endpoint.absent(),
        world.store(),
    )
    assert result.deployment_config["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": 30,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        },
        "TerminationWaitInSeconds": 0,
        "MaximumExecutionTimeoutInSeconds": 600,
    }
    alarm = result.latency_alarm
    assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (80_000.0, 10, 3)


def test_skip_plans_carry_no_deployment_config(world: Any, endpoint: Any) -> None:
    v1 = world.create_package("Approved")
    live = resource_name(ENDPOINT, 1, "deploy-1")
    result = plan_deployment(
        world.package_event(v1, 1), EXECUTION, SETTINGS, world.registry(),
        endpoint.present("InService", live), world.store(),
    )  # fmt: skip
    assert result.action == "SKIP"
    assert (result.deployment_config, result.latency_alarm) == ({}, {})


def test_invalid_strategy_is_deployment_config_invalid_naming_every_problem(world: Any) -> None:
    # Given an approved v1, and a LINEAR step and a bake outside the API's limits (moto answers
    # DescribeEndpoint, if asked: no endpoint yet)
    v1 = world.create_package("Approved")
    # When / Then no plan reaches UpdateEndpoint
    with pytest.raises(DeploymentConfigInvalid) as excinfo:
        plan_deployment(
            world.package_event(v1, 1), EXECUTION, invalid_settings(), world.registry(),
            Endpoints(world.sagemaker), world.store(),
        )  # fmt: skip
    assert str(excinfo.value) == INVALID_MESSAGE


def test_invalid_strategy_is_rejected_before_any_sagemaker_call(world: Any, endpoint: Any) -> None:
    # Given a SageMaker client with no answer queued: any call fails with UnStubbedResponseError
    registry_on_stub = ModelRegistry(endpoint.client, world.group)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/2"
    # When / Then the invalid strategy is reported without asking SageMaker anything
    with pytest.raises(DeploymentConfigInvalid, match="^linear step 5% must be 10-50%"):
        plan_deployment(
            world.package_event(arn, 2), EXECUTION, invalid_settings(), registry_on_stub,
            endpoint.untouched(), world.store(),
        )  # fmt: skip


# ---- verify_deployment for a rollback ---------------------------------------------------------


LEFT = resource_name(ENDPOINT, 2, "deploy-2")  # the config the rollback's update left


def target(world: Any) -> DeploymentTarget:
    arn = world.create_package("Approved")
    return DeploymentTarget(
        model_package_arn=arn,
        version=1,
        endpoint_name=ENDPOINT,
        endpoint_config={"EndpointConfigName": resource_name(ENDPOINT, 1, "rollback-1")},
        previous_config=LEFT,
    )


def test_rolled_back_update_is_reported_without_rejecting_when_asked(
    world: Any, endpoint_response: Any
) -> None:
    # Given the rollback's own update ended back on the config it left
    plan = target(world)
    left = LEFT
    endpoint = endpoint_response("InService", left, reason="update failed")
    # When
    with pytest.raises(DeploymentRolledBack) as excinfo:
        verify_deployment(plan, endpoint, world.registry(), reject_on_rollback=False)
    # Then the known-good package stays Approved
    assert str(excinfo.value) == (
        f"version 1 not deployed; deployment rolled back to {left}: update failed"
    )
    package = world.sagemaker.describe_model_package(ModelPackageName=plan.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert "ApprovalDescription" not in package


def test_reject_on_rollback_defaults_to_rejecting(world: Any, endpoint_response: Any) -> None:
    plan = target(world)
    endpoint = endpoint_response("InService", LEFT, reason="alarm fired")
    with pytest.raises(DeploymentRolledBack, match="^version 1 rejected; "):
        verify_deployment(plan, endpoint, world.registry())
    package = world.sagemaker.describe_model_package(ModelPackageName=plan.model_package_arn)
    assert package["ModelApprovalStatus"] == "Rejected"


def test_verify_accepts_a_deploy_plan_as_its_target(world: Any, endpoint_response: Any) -> None:
    # DeployPlan is a DeploymentTarget: both pipelines hand their plan to VerifyDeployment.
    base = target(world)
    plan = DeployPlan(action="DEPLOY", reason="approved package", **base.model_dump())
    config = base.endpoint_config["EndpointConfigName"]
    result = verify_deployment(plan, endpoint_response("InService", config), world.registry())
    assert (result.endpoint_config_name, result.status) == (config, "InService")
