"""Autoscaling of the live variant: Application Auto Scaling target tracking on
SageMakerVariantInvocationsPerInstance, registered by the control plane after every deployment
and rollback ("Configure model auto scaling with the AWS CLI or the Application Auto Scaling
API", SageMaker developer guide; RegisterScalableTarget and PutScalingPolicy, Application Auto
Scaling API reference).

The endpoint is created by the state machines, so no CloudFormation ScalableTarget can name it:
ConfigureScaling registers `endpoint/<name>/variant/<variant>` once the endpoint is InService and
verified, and before an UpdateEndpoint decides whether the registration may stay
(`prepare_update`), following "Update endpoints that use auto scaling" (SageMaker developer
guide): an update that changes the instance type of an autoscaled variant, or removes such a
variant, fails unless the variant is deregistered first; an update that changes only the model
is allowed. Deployment guardrails (blue/green) list no autoscaling exclusion ("Exclusions",
deployment guardrails guide), and a blue/green update keeps the variant name, so the stack's
guarded updates keep the registration while the instance type stays; the new fleet then starts
at the variant's current DesiredInstanceCount (UpdateEndpoint RetainAllVariantProperties, step 6
of the documented procedure), not at InferenceInstanceCount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import AutoScalingConfigInvalid

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
POLICY_NAME = "invocations-per-instance"


@dataclass(frozen=True)
class ScalingConfig:
    """Template parameters AutoScaling, AutoScalingMinInstances, AutoScalingMaxInstances,
    AutoScalingTargetInvocations (per instance per minute), AutoScalingScaleOutCooldown and
    AutoScalingScaleInCooldown (seconds)."""

    enabled: bool
    min_instances: int
    max_instances: int
    target_invocations: float
    scale_out_cooldown: int
    scale_in_cooldown: int

    def problems(self) -> list[str]:
        found = []
        if self.min_instances < 1:
            found.append(f"AutoScalingMinInstances must be at least 1, not {self.min_instances}")
        if self.max_instances < self.min_instances:
            found.append(
                f"AutoScalingMaxInstances ({self.max_instances}) must not be below "
                f"AutoScalingMinInstances ({self.min_instances})"
            )
        if not self.target_invocations > 0:
            found.append(
                f"AutoScalingTargetInvocations must be above 0, not {self.target_invocations}"
            )
        for name, value in (
            ("AutoScalingScaleOutCooldown", self.scale_out_cooldown),
            ("AutoScalingScaleInCooldown", self.scale_in_cooldown),
        ):
            if value < 0:
                found.append(f"{name} must not be negative, not {value}")
        return found

    def check(self) -> ScalingConfig:
        """Itself, or AutoScalingConfigInvalid naming every problem (only when enabled: a
        switched-off configuration is never used)."""
        problems = self.problems() if self.enabled else []
        if problems:
            raise AutoScalingConfigInvalid("; ".join(problems))
        return self


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def register_request(config: ScalingConfig, endpoint: str, variant: str) -> dict[str, Any]:
    """RegisterScalableTarget: no RoleARN, so Application Auto Scaling uses its service-linked
    role AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint ("Service-linked roles for
    Application Auto Scaling")."""
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
        "MinCapacity": config.min_instances,
        "MaxCapacity": config.max_instances,
    }


def policy_request(config: ScalingConfig, endpoint: str, variant: str) -> dict[str, Any]:
    """PutScalingPolicy, TargetTrackingScaling on the predefined metric (TargetValue is
    invocations per instance per minute, "Define a scaling policy", SageMaker developer
    guide)."""
    return {
        "PolicyName": POLICY_NAME,
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(config.target_invocations),
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleOutCooldown": config.scale_out_cooldown,
            "ScaleInCooldown": config.scale_in_cooldown,
        },
    }


def must_deregister(
    registered_variant: str, current: list[dict[str, Any]], target: list[dict[str, Any]]
) -> str | None:
    """Why an update from `current` to `target` production variants (CreateEndpointConfig's
    ProductionVariants) fails while `registered_variant` is a scalable target, or None when it
    may stay registered ("Update endpoints that use auto scaling": a changed instance type or a
    removed variant)."""
    before = next((v for v in current if v.get("VariantName") == registered_variant), None)
    after = next((v for v in target if v.get("VariantName") == registered_variant), None)
    if after is None:
        return f"the update removes the autoscaled variant {registered_variant}"
    if before is not None and before.get("InstanceType") != after.get("InstanceType"):
        return (
            f"the update changes the instance type of {registered_variant} from "
            f"{before.get('InstanceType')} to {after.get('InstanceType')}"
        )
    return None


def desired_capacity(current: int, metric: float, target: float, minimum: int, maximum: int) -> int:
    """Target tracking's proportional step: the capacity that brings the per-instance metric
    back to the target (current x metric / target, rounded up so the metric ends at or below
    it), within [minimum, maximum]."""
    wanted = math.ceil(current * metric / target - 1e-9) if metric > 0 else minimum
    return max(minimum, min(maximum, wanted))


class ScalingApi(Protocol):
    def registered(self, endpoint: str, variant: str) -> dict[str, Any] | None: ...
    def register(self, register: dict[str, Any], policy: dict[str, Any]) -> None: ...
    def deregister(self, endpoint: str, variant: str) -> None: ...
