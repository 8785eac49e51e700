"""Planning around shadow tests: plan_deployment's shadow test config, when it plans one, and
what a deployment or rollback planned while a shadow test or rollout runs decides.

The registry is moto; DescribeEndpoint and DescribeEndpointConfig go through Stubber (the
`endpoint` fixture), which also proves a call nothing was queued for is never made.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mlops_common.domain.deployment import plan_deployment, resource_name
from mlops_common.domain.rollback import plan_rollback
from mlops_common.models import DeployPlan, Execution
from mlops_common.settings import DeploySettings, RollbackSettings

# The API's pattern for endpoint config names; their length limit, 63, is checked apart.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENDPOINT = "mlops-endpoint"
SETTINGS = DeploySettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn=ROLE,
    error_alarm_name="mlops-endpoint-5xx",
    latency_alarm_name="mlops-new-fleet-latency",
    shadow_mode=True,
    shadow_window_seconds=900,
    artifacts_bucket="mlops-artifacts",
    inference_image_uri=IMAGE,
)


def execution(name: str) -> Execution:
    return Execution(Name=name, Id=f"arn:aws:states:us-east-1:123456789012:execution:deploy:{name}")


def live(version: int) -> str:
    return resource_name(ENDPOINT, version, f"deploy-{version}")


def live_variant(version: int) -> dict[str, Any]:
    """The live config's variant as DescribeEndpointConfig returns it (sized by hand: 2 x c5)."""
    return {
        "VariantName": "AllTraffic",
        "ModelName": live(version),
        "InitialInstanceCount": 2,
        "InstanceType": "ml.c5.xlarge",
        "InitialVariantWeight": 1.0,
    }


def plan(
    world: Any, arn: str, version: int, endpoints: Any, settings: DeploySettings = SETTINGS
) -> DeployPlan:
    event = world.package_event(arn, version)
    return plan_deployment(
        event, execution("deploy-2"), settings, world.registry(), endpoints, world.store()
    )


# ---- the shadow test's config -----------------------------------------------------------------


def test_shadow_test_keeps_the_live_variant_and_shadows_the_candidate_with_full_capture(
    world: Any, endpoint: Any
) -> None:
    # Given v1 live on its own config and v2 approved, in shadow mode
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    endpoint.present("InService", live(1))
    endpoints = endpoint.config(live(1), [live_variant(1)])
    # When
    result = plan(world, v2, 2, endpoints)
    # Then the rollout is planned as ever, and the shadow test comes first
    candidate = result.endpoint_config["EndpointConfigName"]
    assert (result.action, result.endpoint_exists, result.previous_config) == (
        "DEPLOY",
        True,
        live(1),
    )
    assert result.shadow == {
        "enabled": True,
        "window_seconds": 900,
        "capture_uri": "s3://mlops-artifacts/shadow-tests/deploy-2",
        "endpoint_config": {
            "EndpointConfigName": f"{candidate}-shadow",
            # production unchanged: the live variant exactly as its config describes it
            "ProductionVariants": [live_variant(1)],
            "ShadowProductionVariants": [
                {
                    "VariantName": "Shadow",
                    "ModelName": result.model["ModelName"],
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://mlops-artifacts/shadow-tests/deploy-2",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            },
            "Tags": result.endpoint_config["Tags"],
        },
    }
    # And the rollout's own config has no shadow variant, and the live capture drift checks read
    assert set(result.endpoint_config) == {
        "EndpointConfigName", "Tags", "ProductionVariants", "DataCaptureConfig"
    }  # fmt: skip
    capture = result.endpoint_config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://mlops-artifacts/data-capture"


def test_shadow_config_is_a_valid_create_endpoint_config_request(world: Any, endpoint: Any) -> None:
    # Given the live model exists, as it does in SageMaker
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    endpoint.present("InService", live(1))
    result = plan(world, v2, 2, endpoint.config(live(1), [live_variant(1)]))
    world.sagemaker.create_model(**(result.model | {"ModelName": live(1)}))
    # When CreateShadowConfig runs (moto validates the request against the API model)
    world.sagemaker.create_model(**result.model)
    world.sagemaker.create_endpoint_config(**result.shadow["endpoint_config"])
    # Then
    name = result.shadow["endpoint_config"]["EndpointConfigName"]
    created = world.sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert created["DataCaptureConfig"]["DestinationS3Uri"] == result.shadow["capture_uri"]
    assert SAGEMAKER_NAME.match(name) and len(name) <= 63


def test_shadow_config_name_fits_sagemaker_s_63_characters(
    world: Any, endpoint: Any, endpoint_response: Any
) -> None:
    # Given a 44-character endpoint name (a 35-character stack name) and version 12
    long_endpoint = "e" * 44
    settings = SETTINGS.model_copy(update={"endpoint_name": long_endpoint})
    arns = [world.create_package("Approved") for _ in range(12)]
    config = resource_name(long_endpoint, 11, "deploy-11")
    described = endpoint_response("InService", config) | {"EndpointName": long_endpoint}
    endpoint.stubber.add_response("describe_endpoint", described, {"EndpointName": long_endpoint})
    endpoints = endpoint.config(config, [live_variant(11) | {"ModelName": config}])
    # When
    result = plan(world, arns[11], 12, endpoints, settings)
    # Then CreateEndpointConfig would accept the name (the rollout's own name fits: 57)
    name = result.shadow["endpoint_config"]["EndpointConfigName"]
    assert len(result.endpoint_config["EndpointConfigName"]) <= 63
    assert SAGEMAKER_NAME.match(name) and len(name) <= 63, f"{len(name)} characters"


# ---- when a shadow test is planned ------------------------------------------------------------


def test_first_deployment_has_nothing_to_shadow(world: Any, endpoint: Any) -> None:
    # Shadow mode, but no endpoint yet: no DescribeEndpointConfig is queued, none may be made
    v1 = world.create_package("Approved")
    result = plan(world, v1, 1, endpoint.absent())
    assert (result.action, result.endpoint_exists) == ("DEPLOY", False)
    assert result.shadow == {"enabled": False}


def test_without_shadow_mode_an_update_goes_straight_to_the_rollout(
    world: Any, endpoint: Any
) -> None:
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    settings = SETTINGS.model_copy(update={"shadow_mode": False})
    result = plan(world, v2, 2, endpoint.present("InService", live(1)), settings)
    assert (result.action, result.endpoint_exists) == ("DEPLOY", True)
    assert result.shadow == {"enabled": False}


def test_skip_plans_carry_no_shadow_test(world: Any, endpoint: Any) -> None:
    v1 = world.create_package("Approved")
    result = plan(world, v1, 1, endpoint.present("InService", live(1)))
    assert (result.action, result.shadow) == ("SKIP", {"enabled": False})


# ---- an update already under way --------------------------------------------------------------


@pytest.mark.parametrize(
    "pending",
    [resource_name(ENDPOINT, 2, "deploy-1"), resource_name(ENDPOINT, 2, "deploy-1") + "-shadow"],
    ids=["its-rollout", "its-shadow-test"],
)
def test_version_being_rolled_out_by_another_execution_is_skipped(
    world: Any, endpoint: Any, pending: str
) -> None:
    # Given deploy-1 is updating the endpoint to v2 (e.g. this event is the one CompareShadow's
    # annotation of v2 emitted)
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    endpoints = endpoint.present("Updating", live(1), pending=pending)
    # When
    result = plan(world, v2, 2, endpoints)
    # Then nothing fails and nothing is planned
    assert (result.action, result.reason) == (
        "SKIP",
        f"version 2 is being rolled out to {ENDPOINT} by another execution",
    )
    assert (result.endpoint_config, result.deployment_config) == ({}, {})
    assert result.shadow == {"enabled": False}


def test_a_version_older_than_the_one_being_rolled_out_is_superseded(
    world: Any, endpoint: Any
) -> None:
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    world.create_package("Approved")
    result = plan(world, v2, 2, endpoint.untouched())
    assert (result.action, result.champion and result.champion.version) == ("SUPERSEDED", 3)


def test_another_rollout_of_the_endpoint_makes_the_champion_wait_for_it(
    world: Any, endpoint: Any
) -> None:
    # Given v2 is the champion, and someone rolls a hand-made config out (this execution holds
    # the lock: the rollout is not the control plane's)
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    endpoints = endpoint.present("Updating", live(1), pending="hand-made-config")
    # When / Then v2 waits for it to settle
    assert plan(world, v2, 2, endpoints).action == "WAIT"


# ---- while a shadow test runs -----------------------------------------------------------------


class ShadowTestEndpoints:
    """v2 in its shadow test: InService on v2's shadow config, whose production variant is v1.
    A fake rather than Stubber: it answers DescribeEndpointConfig whether or not it is asked."""

    def __init__(self) -> None:
        self.config = resource_name(ENDPOINT, 2, "deploy-2") + "-shadow"

    def describe(self, name: str) -> dict[str, Any]:
        assert name == ENDPOINT
        return {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": self.config,
            "EndpointStatus": "InService",
            "LastModifiedTime": "2026-03-02T10:00:00Z",
        }

    def describe_config(self, name: str) -> dict[str, Any]:
        assert name == self.config
        shadow = {"VariantName": "Shadow", "ModelName": resource_name(ENDPOINT, 2, "deploy-2")}
        return {
            "EndpointConfigName": name,
            "ProductionVariants": [live_variant(1)],
            "ShadowProductionVariants": [shadow],
        }


def test_replayed_approval_of_the_candidate_in_its_shadow_test_is_skipped(world: Any) -> None:
    # Whatever the reason says, a second execution must not start another test or rollout of v2
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    result = plan(world, v2, 2, ShadowTestEndpoints())
    assert result.action == "SKIP"
    assert "version 2" in result.reason


def test_rejecting_the_candidate_of_a_shadow_test_does_not_roll_production_back(
    world: Any,
) -> None:
    # Given v1 serves production while v2 shadows it, and CompareShadow rejected v2
    world.create_package("Approved")
    v2 = world.create_package("Approved")
    world.sagemaker.update_model_package(ModelPackageArn=v2, ModelApprovalStatus="Rejected")
    settings = RollbackSettings(
        endpoint_name=ENDPOINT, model_package_group="mlops-models", sagemaker_role_arn=ROLE,
        error_alarm_name="mlops-endpoint-5xx", ledger_table=world.table.name,
        artifacts_bucket="mlops-artifacts", inference_image_uri=IMAGE,
    )  # fmt: skip
    # When the Rejected event reaches the RollbackPipeline
    result = plan_rollback(
        world.package_event(v2, 2, status="Rejected"), execution("rollback-1"), settings,
        world.registry(), ShadowTestEndpoints(), world.store(), world.ledger(),  # type: ignore[arg-type]
    )  # fmt: skip
    # Then production (v1) is unaffected: the DeployPipeline's EndShadowTest restores v1 alone
    assert (result.action, result.from_version) == ("SKIP", 1)
    assert result.reason == (
        "version 2 was set to Rejected; the live version is 1, so production is unaffected"
    )
