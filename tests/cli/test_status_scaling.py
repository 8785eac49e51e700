"""`mlops status` shows each variant's autoscaling range and target (moto's Application Auto
Scaling holds the registration ConfigureScaling makes)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from mlops.cli.status import _scaling_text
from mlops.control.endpoint import scaling_of


def test_the_registered_variant_of_this_endpoint_shows_its_range_and_target() -> None:
    with mock_aws():
        scaling = boto3.client("application-autoscaling", region_name="us-east-1")
        for endpoint in ("mlops-endpoint", "other-endpoint"):
            resource = f"endpoint/{endpoint}/variant/AllTraffic"
            dimension = "sagemaker:variant:DesiredInstanceCount"
            scaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=resource,
                ScalableDimension=dimension,
                MinCapacity=1,
                MaxCapacity=3 if endpoint == "mlops-endpoint" else 9,
            )
            scaling.put_scaling_policy(
                PolicyName="invocations-per-instance",
                ServiceNamespace="sagemaker",
                ResourceId=resource,
                ScalableDimension=dimension,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={"TargetValue": 250.0},
            )
        found = scaling_of(scaling, "mlops-endpoint")
    assert found == {"AllTraffic": {"min": 1, "max": 3, "target": 250.0}}
    assert _scaling_text(found["AllTraffic"]) == (", autoscaling 1-3, target 250/min per instance")
    assert _scaling_text(None) == ""
