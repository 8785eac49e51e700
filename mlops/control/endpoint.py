"""The stack's endpoint as an operator needs it at a glance: status, the version it serves,
its variants, weights, instances and autoscaling range, a deployment in progress (DescribeEndpoint's
PendingDeploymentSummary, SageMaker API reference), and the stack's alarms and dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.control.plane import ControlPlane


@dataclass(frozen=True)
class EndpointView:
    name: str
    status: str
    config: str
    live_version: int | None
    variants: list[dict[str, Any]]
    deployment: dict[str, Any] | None  # the pending deployment, while one runs
    failure_reason: str | None
    last_modified: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "config": self.config,
            "live_version": self.live_version,
            "variants": self.variants,
            "deployment": self.deployment,
            "failure_reason": self.failure_reason,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }


def live_version(plane: ControlPlane, endpoint: dict[str, Any] | None) -> int | None:
    """The package version the endpoint serves, as the workflows read it (one definition)."""
    from mlops_common.domain.deployment import live_package_version

    return None if endpoint is None else live_package_version(plane.endpoints, endpoint)


def scaling_of(autoscaling: Any, endpoint: str) -> dict[str, dict[str, Any]]:
    """Variant name -> its autoscaling range and target-tracking target (Application Auto
    Scaling DescribeScalableTargets and DescribeScalingPolicies, namespace sagemaker)."""
    prefix = f"endpoint/{endpoint}/variant/"
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")
    tracked = {
        p["ResourceId"]: p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies["ScalingPolicies"]
        if p["PolicyType"] == "TargetTrackingScaling"
    }
    return {
        t["ResourceId"][len(prefix) :]: {
            "min": t["MinCapacity"],
            "max": t["MaxCapacity"],
            "target": tracked.get(t["ResourceId"]),
        }
        for t in targets["ScalableTargets"]
        if t["ResourceId"].startswith(prefix)
    }


def endpoint_view(plane: ControlPlane) -> EndpointView | None:
    endpoint = plane.endpoints.describe(plane.endpoint_name)
    if endpoint is None:
        return None
    scaling = scaling_of(plane.client("application-autoscaling"), plane.endpoint_name)
    pending = endpoint.get("PendingDeploymentSummary")
    return EndpointView(
        name=endpoint["EndpointName"],
        status=endpoint["EndpointStatus"],
        config=endpoint.get("EndpointConfigName", ""),
        live_version=live_version(plane, endpoint),
        variants=[
            {**_variant(v), "scaling": scaling.get(v["VariantName"])}
            for v in endpoint.get("ProductionVariants", [])
        ]
        + [_variant(v, shadow=True) for v in endpoint.get("ShadowProductionVariants", [])],
        deployment=None
        if not pending
        else {
            "config": pending.get("EndpointConfigName"),
            "variants": [_variant(v) for v in pending.get("ProductionVariants", [])],
        },
        failure_reason=endpoint.get("FailureReason"),
        last_modified=endpoint.get("LastModifiedTime"),
    )


def _variant(variant: dict[str, Any], shadow: bool = False) -> dict[str, Any]:
    statuses = [s.get("Status") for s in variant.get("VariantStatus", [])]
    return {
        "name": variant.get("VariantName"),
        "shadow": shadow,
        "current_weight": variant.get("CurrentWeight"),
        "desired_weight": variant.get("DesiredWeight"),
        "instances": variant.get("CurrentInstanceCount", variant.get("DesiredInstanceCount")),
        "status": statuses[0] if statuses else None,
    }


def alarms(plane: ControlPlane) -> list[dict[str, Any]]:
    """Every alarm of the stack, with its state and since when."""
    names = [r.physical_id for r in plane.stack.of_type("AWS::CloudWatch::Alarm")]
    if not names:
        return []
    found = plane.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    return [
        {
            "name": alarm["AlarmName"],
            "state": alarm["StateValue"],
            "since": alarm["StateUpdatedTimestamp"].isoformat()
            if alarm.get("StateUpdatedTimestamp")
            else None,
            "reason": alarm.get("StateReason"),
        }
        for alarm in sorted(found, key=lambda a: a["AlarmName"])
    ]


def dead_letter_depth(plane: ControlPlane) -> int:
    """Messages in the dead-letter queue, visible or being read."""
    attributes = plane.client("sqs").get_queue_attributes(
        QueueUrl=plane.dead_letter_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())
