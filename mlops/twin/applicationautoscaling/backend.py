"""moto's Application Auto Scaling backend (moto 5.2.5 internals, guarded by contract tests):
`applicationautoscaling_backends[account][region]` with `.targets` ({dimension: {resource id:
FakeScalableTarget}}) and `.policies` ({key: FakeApplicationAutoscalingPolicy} with
`.resource_id`, `.scalable_dimension`, `.policy_type`, `.policy_name`,
`.target_tracking_scaling_policy_configuration`), and `deregister_scalable_target`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops.twin.seam import Patch, PatchSeam

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


def autoscaling_backend(account: str, region: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account][region]


@dataclass(frozen=True)
class TrackedVariant:
    """A registered SageMaker variant and its target-tracking policy on invocations."""

    resource_id: str
    endpoint: str
    variant: str
    min_capacity: int
    max_capacity: int
    target: float
    scale_out_cooldown: int
    scale_in_cooldown: int


def tracked_variants(account: str, region: str) -> list[TrackedVariant]:
    """Every SageMaker variant registered with a TargetTrackingScaling policy on
    SageMakerVariantInvocationsPerInstance (other policies are not the twin's to run)."""
    backend = autoscaling_backend(account, region)
    targets = dict(backend.targets.get(DIMENSION, {}))  # a snapshot: the API thread writes
    found = []
    for policy in list(backend.policies.values()):
        target = targets.get(policy.resource_id)
        config = policy.target_tracking_scaling_policy_configuration or {}
        metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if target is None or policy.scalable_dimension != DIMENSION or metric != METRIC:
            continue
        _, endpoint, _, variant = policy.resource_id.split("/", 3)
        found.append(
            TrackedVariant(
                policy.resource_id,
                endpoint,
                variant,
                int(target.min_capacity),
                int(target.max_capacity),
                float(config["TargetValue"]),
                int(config.get("ScaleOutCooldown", 300)),
                int(config.get("ScaleInCooldown", 300)),
            )
        )
    return found


class DeregisterDeletesPolicies(PatchSeam):
    """DeregisterScalableTarget: "Deregistering a scalable target deletes the scaling policies
    and the scheduled actions that are associated with it" (Application Auto Scaling API
    reference); moto keeps the policies."""

    def __init__(self, account: str, region: str) -> None:
        super().__init__()
        self.account, self.region = account, region

    def patches(self) -> Sequence[Patch]:
        from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

        original = ApplicationAutoscalingBackend.deregister_scalable_target

        def deregister(backend: Any, namespace: str, r_id: str, dimension: str) -> None:
            original(backend, namespace, r_id, dimension)
            for key, policy in list(backend.policies.items()):
                if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                    namespace,
                    r_id,
                    dimension,
                ):
                    del backend.policies[key]
            backend.scheduled_actions = [
                a
                for a in backend.scheduled_actions
                if (a.service_namespace, a.resource_id, a.scalable_dimension)
                != (namespace, r_id, dimension)
            ]

        return [Patch(ApplicationAutoscalingBackend, "deregister_scalable_target", deregister)]
