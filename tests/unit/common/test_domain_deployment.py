"""plan_deployment and verify_deployment: registry in moto, the endpoint through Stubber.

moto's endpoints are InService at once and cannot be Updating or rolled back, so the
DescribeEndpoint answers are stubbed (botocore Stubber validates them against the API model).
"""

import re
from typing import Any

import pytest
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.domain.deployment import plan_deployment, resource_name, verify_deployment
from mlops_common.errors import (
    DeploymentFailed,
    DeploymentRolledBack,
    EventMalformed,
    ModelPackageNotFound,
    UpdateRollbackFailed,
)
from mlops_common.models import DeployPlan, Execution
from mlops_common.settings import DeploySettings

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENDPOINT = "mlops-endpoint"
MODEL_DATA = "s3://mlops-artifacts/runs/run-a/models/job/output/model.tar.gz"
SETTINGS = DeploySettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn=ROLE,
    error_alarm_name="mlops-endpoint-5xx",
    latency_alarm_name="mlops-new-fleet-latency",
    artifacts_bucket="mlops-artifacts",
    inference_image_uri=IMAGE,
)


def plan(
    world: Any, event: dict, endpoints: Endpoints, execution_name: str = "deploy-1"
) -> DeployPlan:
    execution = Execution(
        Name=execution_name,
        Id=f"arn:aws:states:us-east-1:123456789012:execution:deploy:{execution_name}",
    )
    return plan_deployment(event, execution, SETTINGS, world.registry(), endpoints, world.store())


def approved(world: Any, count: int = 1) -> list[str]:
    return [world.create_package("Approved", model_data_url=MODEL_DATA) for _ in range(count)]


# ---- plan_deployment --------------------------------------------------------------------------


def test_first_deployment_creates_the_endpoint(world: Any, endpoint: Any) -> None:
    # Given an approved v1 and no endpoint yet
    [arn] = approved(world)
    # When
    result = plan(world, world.package_event(arn, 1), endpoint.absent())
    # Then
    assert (result.action, result.reason) == ("DEPLOY", "approved package")
    assert (result.model_package_arn, result.version, result.endpoint_name) == (arn, 1, ENDPOINT)
    assert result.endpoint_exists is False
    assert result.previous_config is None
    name = result.model["ModelName"]
    assert result.model["ExecutionRoleArn"] == ROLE
    assert result.model["PrimaryContainer"] == {
        "Image": world.image,
        "ModelDataUrl": MODEL_DATA,
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": world.code_uri,
        },
    }
    assert {"Key": "mlops:model-package-arn", "Value": arn} in result.model["Tags"]
    assert result.endpoint_config["EndpointConfigName"] == name
    assert result.endpoint_config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": name,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
        }
    ]


def test_new_version_updates_the_live_endpoint(world: Any, endpoint: Any) -> None:
    # Given v1 is live (its config name carries the version) and v2 was just approved
    v1, v2 = approved(world, 2)
    live = resource_name(ENDPOINT, 1, "deploy-0")
    # When
    result = plan(world, world.package_event(v2, 2), endpoint.present("InService", live))
    # Then
    assert result.action == "DEPLOY"
    assert result.endpoint_exists is True
    assert result.previous_config == live
    assert result.endpoint_config["EndpointConfigName"] != live


def test_version_already_live_is_skipped(world: Any, endpoint: Any) -> None:
    [arn] = approved(world)
    live = resource_name(ENDPOINT, 1, "deploy-0")
    result = plan(world, world.package_event(arn, 1), endpoint.present("InService", live))
    assert result.action == "SKIP"
    assert result.reason == f"version 1 is already live on {ENDPOINT}"
    assert (result.model, result.endpoint_config) == ({}, {})


def test_stale_approval_event_is_skipped_when_the_package_is_now_rejected(
    world: Any, endpoint: Any
) -> None:
    # Given the package was approved, then rejected before the event was handled
    [arn] = approved(world)
    world.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    # When the (replayed) Approved event arrives; Then nothing is deployed, nor asked of SageMaker
    result = plan(world, world.package_event(arn, 1, status="Approved"), Endpoints(endpoint.client))
    assert (result.action, result.reason) == ("SKIP", "stale event: the package is now Rejected")


def test_unknown_package_is_model_package_not_found(world: Any, endpoint: Any) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/9"
    with pytest.raises(ModelPackageNotFound, match=f"^{arn} does not exist$"):
        plan(world, world.package_event(arn, 9), Endpoints(endpoint.client))


def test_event_of_another_group_is_malformed(world: Any, endpoint: Any) -> None:
    [arn] = approved(world)
    event = world.package_event(arn, 1, group="someone-elses-models")
    with pytest.raises(
        EventMalformed, match="^package group someone-elses-models is not this stack's$"
    ):
        plan(world, event, Endpoints(endpoint.client))


def test_malformed_event_is_event_malformed(world: Any, endpoint: Any) -> None:
    with pytest.raises(EventMalformed, match="^not a Model Package State Change: "):
        plan(world, {"source": "aws.sagemaker", "detail": {}}, Endpoints(endpoint.client))


@pytest.mark.parametrize(
    "status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"]
)
def test_an_endpoint_busy_with_a_change_from_outside_makes_the_deployment_wait(
    world: Any, endpoint: Any, status: str
) -> None:
    # Given this execution holds the endpoint lock, yet the endpoint is changing (an operator's
    # own UpdateEndpoint, say)
    _, v2 = approved(world, 2)
    endpoints = endpoint.present(status, resource_name(ENDPOINT, 1, "deploy-0"))
    # When / Then the plan is to wait for it, not to fail or to ask anyone to replay
    result = plan(world, world.package_event(v2, 2), endpoints)
    assert (result.action, result.model) == ("WAIT", {})
    assert result.reason == (
        f"{ENDPOINT} is {status} by a change outside the control plane; waiting for it to settle"
    )


@pytest.mark.parametrize("status", ["UpdateRollbackFailed", "OutOfService"])
def test_an_endpoint_needing_repair_fails_the_deployment_naming_it(
    world: Any, endpoint: Any, status: str
) -> None:
    _, v2 = approved(world, 2)
    endpoints = endpoint.present(status, resource_name(ENDPOINT, 1, "deploy-0"), "capacity")
    with pytest.raises(DeploymentFailed) as excinfo:
        plan(world, world.package_event(v2, 2), endpoints)
    assert str(excinfo.value) == (
        f"{ENDPOINT} is {status} (capacity); an operator must repair it before a deployment can run"
    )


def test_failed_endpoint_is_deployment_failed_with_the_remedy(world: Any, endpoint: Any) -> None:
    _, v2 = approved(world, 2)
    endpoints = endpoint.present("Failed", resource_name(ENDPOINT, 1, "deploy-0"))
    with pytest.raises(DeploymentFailed) as excinfo:
        plan(world, world.package_event(v2, 2), endpoints)
    assert str(excinfo.value) == (
        f"{ENDPOINT} is Failed (no reason given); delete it, then replay this event"
    )


def test_endpoint_that_failed_on_this_version_is_not_already_live(
    world: Any, endpoint: Any
) -> None:
    # Given creating the endpoint with v1 failed, and v1's approval event is replayed
    [arn] = approved(world)
    failed = endpoint.present("Failed", resource_name(ENDPOINT, 1, "deploy-0"), "quota")
    # When / Then the operator hears the endpoint is Failed, not that v1 is live
    with pytest.raises(DeploymentFailed, match="Failed"):
        plan(world, world.package_event(arn, 1), failed)


def test_endpoint_config_not_named_by_us_counts_as_another_version(
    world: Any, endpoint: Any
) -> None:
    [arn] = approved(world)
    result = plan(
        world, world.package_event(arn, 1), endpoint.present("InService", "hand-made-config")
    )
    assert (result.action, result.previous_config) == ("DEPLOY", "hand-made-config")


def test_resource_names_are_unique_per_deployment(world: Any, endpoint: Any) -> None:
    [arn] = approved(world)
    event = world.package_event(arn, 1)
    first = plan(world, event, endpoint.absent(), execution_name="deploy-1")
    second = plan(world, event, endpoint.absent(), execution_name="deploy-2")
    assert first.model["ModelName"] != second.model["ModelName"]


@pytest.mark.parametrize("endpoint_name", ["e", ENDPOINT, "x" * 63])
@pytest.mark.parametrize("version", [1, 42, 99_999_999])
def test_resource_names_are_valid_sagemaker_names_of_at_most_63_chars(
    endpoint_name: str, version: int
) -> None:
    name = resource_name(endpoint_name, version, "b0f3e1c2-execution-name-" + "z" * 60)
    assert len(name) <= 63
    assert SAGEMAKER_NAME.fullmatch(name), name


# ---- verify_deployment ------------------------------------------------------------------------


PREVIOUS = resource_name(ENDPOINT, 0, "deploy-0")  # what the endpoint served before


def deploy_plan(world: Any) -> DeployPlan:
    [arn] = approved(world)
    target = resource_name(ENDPOINT, 1, "deploy-1")
    return DeployPlan(
        action="DEPLOY",
        reason="approved package",
        model_package_arn=arn,
        version=1,
        endpoint_name=ENDPOINT,
        endpoint_config={"EndpointConfigName": target},
        previous_config=PREVIOUS,
    )


def test_in_service_on_the_target_config_is_success(world: Any, endpoint_response: Any) -> None:
    target_plan = deploy_plan(world)
    target = target_plan.endpoint_config["EndpointConfigName"]
    endpoint = endpoint_response("InService", target)
    result = verify_deployment(target_plan, endpoint, world.registry())
    assert result.model_dump() == {
        "endpoint_name": ENDPOINT,
        "endpoint_config_name": target,
        "status": "InService",
    }


def test_in_service_on_another_config_rejects_the_package_and_is_rolled_back(
    world: Any, endpoint_response: Any
) -> None:
    # Given the update's alarms fired and SageMaker rolled back to the previous config
    target_plan = deploy_plan(world)
    previous = PREVIOUS
    endpoint = endpoint_response("InService", previous, reason="Alarm 5xx fired")
    # When
    with pytest.raises(DeploymentRolledBack) as excinfo:
        verify_deployment(target_plan, endpoint, world.registry())
    # Then the package is Rejected with the reason, so it is never redeployed by a replay
    why = f"deployment rolled back to {previous}: Alarm 5xx fired"
    assert str(excinfo.value) == f"version 1 rejected; {why}"
    package = world.sagemaker.describe_model_package(ModelPackageName=target_plan.model_package_arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == why


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        # a later deployment replaced it while this one's wait loop still polled (issue 9)
        (resource_name(ENDPOINT, 2, "deploy-2"), None),
        (resource_name(ENDPOINT, 2, "deploy-2"), "Alarm 5xx fired"),
        # back on the previous config, but nothing says a guardrail put it there
        (PREVIOUS, None),
    ],
    ids=["replaced", "replaced-by-a-rolled-back-update", "reverted-without-a-reason"],
)
def test_an_endpoint_changed_by_someone_else_never_rejects_a_healthy_version(
    world: Any, endpoint_response: Any, config: str, reason: str | None
) -> None:
    target_plan = deploy_plan(world)
    endpoint = endpoint_response("InService", config, reason=reason)
    with pytest.raises(DeploymentFailed) as excinfo:
        verify_deployment(target_plan, endpoint, world.registry())
    assert str(excinfo.value) == (
        f"version 1 not deployed and not judged: {ENDPOINT} serves {config}, neither its "
        f"target {target_plan.endpoint_config['EndpointConfigName']} nor a rollback of it to "
        f"{PREVIOUS} with a failure reason"
    )
    package = world.sagemaker.describe_model_package(ModelPackageName=target_plan.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"


def test_failed_endpoint_is_deployment_failed_with_its_reason(
    world: Any, endpoint_response: Any
) -> None:
    target_plan = deploy_plan(world)
    endpoint = endpoint_response("Failed", "x", reason="image pull failed")
    with pytest.raises(DeploymentFailed, match=f"^{ENDPOINT} ended Failed: image pull failed$"):
        verify_deployment(target_plan, endpoint, world.registry())
    package = world.sagemaker.describe_model_package(ModelPackageName=target_plan.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"


def test_update_rollback_failed_needs_an_operator(world: Any, endpoint_response: Any) -> None:
    target_plan = deploy_plan(world)
    endpoint = endpoint_response("UpdateRollbackFailed", "x", reason="capacity")
    with pytest.raises(UpdateRollbackFailed) as excinfo:
        verify_deployment(target_plan, endpoint, world.registry())
    assert str(excinfo.value) == (
        f"{ENDPOINT}: update and rollback failed; the fleet may be mixed. capacity"
    )


@pytest.mark.parametrize("percent", [0, 20, 100])
def test_every_live_config_captures_the_configured_share_for_drift_checks(
    world: Any, endpoint: Any, percent: int
) -> None:
    # Given DataCapturePercent, and an approved v1
    [arn] = approved(world)
    settings = SETTINGS.model_copy(update={"data_capture_percent": percent})
    execution = Execution(Name="deploy-1", Id="arn:aws:states:us-east-1:1:execution:d:deploy-1")
    # When
    result = plan_deployment(
        world.package_event(arn, 1), execution, settings, world.registry(), endpoint.absent(),
        world.store(),
    )  # fmt: skip
    # Then the config captures that share of inputs and outputs (0: the shape, disabled)
    capture = result.endpoint_config["DataCaptureConfig"]
    assert capture["EnableCapture"] is (percent > 0)
    assert capture["InitialSamplingPercentage"] == percent
    assert capture["DestinationS3Uri"] == "s3://mlops-artifacts/data-capture"
    # And it is a valid CreateEndpointConfig request (moto validates it with botocore)
    world.sagemaker.create_model(**result.model)
    world.sagemaker.create_endpoint_config(**result.endpoint_config)
