"""ConfigureScaling handler: `{"plan": $.plan.Payload, "action": "prepare" | "register"}`
against moto's SageMaker endpoint and Application Auto Scaling.

Payload: events/functions/configure_scaling.json (the endpoint of the sample plan)."""

from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
ENDPOINT = "mlops-dev-endpoint"
RESOURCE = f"endpoint/{ENDPOINT}/variant/AllTraffic"


@pytest.fixture
def live(aws: Any) -> Any:
    """The sample plan's endpoint, serving AllTraffic on ml.m5.large (moto: InService)."""
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model(
        ModelName="live-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/mlops-sagemaker",
        PrimaryContainer={"Image": "image", "ModelDataUrl": "s3://b/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{ENDPOINT}-v2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "live-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],  # fmt: skip
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v2")
    return aws.client("application-autoscaling")


def _registered(scaling: Any) -> tuple[list[dict], list[dict]]:
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return targets, policies


def test_register_makes_the_live_variant_a_target_with_the_stack_s_policy(
    load_handler: Any, sample: Any, live: Any, lambda_context: Any
) -> None:
    handler = load_handler("configure_scaling")
    output = handler.lambda_handler(sample("configure_scaling"), lambda_context)
    assert output["registered"] and (output["min_instances"], output["max_instances"]) == (1, 3)
    [target], [policy] = _registered(live)
    assert (target["ResourceId"], target["ScalableDimension"]) == (
        RESOURCE, "sagemaker:variant:DesiredInstanceCount")  # fmt: skip
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleOutCooldown": 60,
        "ScaleInCooldown": 300,
    }


def test_prepare_keeps_a_registration_when_only_the_model_changes(
    load_handler: Any, sample: Any, live: Any, lambda_context: Any
) -> None:
    handler = load_handler("configure_scaling")
    handler.lambda_handler(sample("configure_scaling"), lambda_context)
    payload = sample("configure_scaling", {"action": "prepare"})
    payload["plan"]["endpoint_config"]["ProductionVariants"][0]["InstanceType"] = "ml.m5.large"
    output = handler.lambda_handler(payload, lambda_context)
    assert (output["registered"], output["retain_variant_properties"]) == (True, True)
    assert [len(found) for found in _registered(live)] == [1, 1]


def test_prepare_deregisters_before_an_update_that_changes_the_instance_type(
    load_handler: Any, sample: Any, live: Any, lambda_context: Any
) -> None:
    handler = load_handler("configure_scaling")
    handler.lambda_handler(sample("configure_scaling"), lambda_context)
    payload = sample("configure_scaling", {"action": "prepare"})
    payload["plan"]["endpoint_config"]["ProductionVariants"][0]["InstanceType"] = "ml.c5.xlarge"
    output = handler.lambda_handler(payload, lambda_context)
    assert (output["registered"], output["retain_variant_properties"]) == (False, False)
    assert "instance type" in output["note"]
    # Policies deleted first, then the target (the documented procedure)
    assert _registered(live) == ([], [])


def test_register_with_autoscaling_off_removes_an_earlier_registration(
    load_handler: Any, sample: Any, live: Any, lambda_context: Any
) -> None:
    load_handler("configure_scaling").lambda_handler(sample("configure_scaling"), lambda_context)
    handler = load_handler("configure_scaling", AUTO_SCALING="false")
    output = handler.lambda_handler(sample("configure_scaling"), lambda_context)
    assert not output["registered"]
    assert _registered(live) == ([], [])


def test_an_invalid_range_fails_by_name_and_registers_nothing(
    load_handler: Any, sample: Any, live: Any, lambda_context: Any
) -> None:
    from mlops_common.errors import AutoScalingConfigInvalid

    handler = load_handler(
        "configure_scaling", AUTO_SCALING_MIN_INSTANCES="3", AUTO_SCALING_MAX_INSTANCES="2"
    )
    with pytest.raises(AutoScalingConfigInvalid, match=r"AutoScalingMaxInstances \(2\)"):
        handler.lambda_handler(sample("configure_scaling"), lambda_context)
    assert _registered(live) == ([], [])
