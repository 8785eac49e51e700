"""Autoscaling decisions: the parameter checks, the requests, the update procedure, and target
tracking's capacity step."""

import pytest
from mlops_common.domain.autoscaling import (
    ScalingConfig,
    desired_capacity,
    must_deregister,
    policy_request,
    register_request,
)
from mlops_common.errors import AutoScalingConfigInvalid

ON = ScalingConfig(True, 1, 3, 50.0, 60, 300)


def _variant(name: str = "AllTraffic", instance: str = "ml.m5.large") -> dict:
    return {"VariantName": name, "InstanceType": instance, "ModelName": "m"}


def test_a_valid_configuration_passes_the_check_unchanged() -> None:
    assert ON.check() is ON


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"min_instances": 0}, "AutoScalingMinInstances must be at least 1"),
        ({"min_instances": 4}, "AutoScalingMaxInstances (3) must not be below"),
        ({"target_invocations": 0.0}, "AutoScalingTargetInvocations must be above 0"),
        ({"scale_in_cooldown": -1}, "AutoScalingScaleInCooldown must not be negative"),
    ],
)
def test_each_invalid_parameter_is_named(changes: dict, named: str) -> None:
    config = ScalingConfig(**{**ON.__dict__, **changes})
    with pytest.raises(AutoScalingConfigInvalid) as raised:
        config.check()
    assert named in str(raised.value)


def test_a_switched_off_configuration_is_not_checked() -> None:
    off = ScalingConfig(False, 0, 0, 0.0, -1, -1)
    assert off.check() is off


def test_requests_name_the_variant_and_the_predefined_metric() -> None:
    register = register_request(ON, "ep", "AllTraffic")
    assert register == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 1,
        "MaxCapacity": 3,
    }
    policy = policy_request(ON, "ep", "AllTraffic")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (policy["PolicyType"], policy["ResourceId"]) == (
        "TargetTrackingScaling", "endpoint/ep/variant/AllTraffic")  # fmt: skip
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["TargetValue"], tracking["ScaleOutCooldown"], tracking["ScaleInCooldown"]) == (
        50.0, 60, 300)  # fmt: skip


def test_a_model_only_update_keeps_the_registration() -> None:
    assert must_deregister("AllTraffic", [_variant()], [_variant()]) is None


def test_a_changed_instance_type_or_removed_variant_needs_a_deregistration() -> None:
    changed = must_deregister("AllTraffic", [_variant()], [_variant(instance="ml.c5.large")])
    removed = must_deregister("AllTraffic", [_variant()], [_variant("Other")])
    assert changed and "ml.m5.large to ml.c5.large" in changed
    assert removed and "removes the autoscaled variant AllTraffic" in removed


@pytest.mark.parametrize(
    ("current", "metric", "expected"),
    [
        (1, 120.0, 3),  # 1 x 120 / 50 = 2.4 -> 3
        (1, 500.0, 3),  # capped at max
        (2, 50.0, 2),  # on target: unchanged
        (3, 20.0, 2),  # 3 x 20 / 50 = 1.2 -> 2
        (3, 0.0, 1),  # idle: down to min
    ],
)
def test_target_tracking_capacity_is_proportional_and_bounded(
    current: int, metric: float, expected: int
) -> None:
    assert desired_capacity(current, metric, 50.0, 1, 3) == expected
