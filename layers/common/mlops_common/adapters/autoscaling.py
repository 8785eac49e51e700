"""Application Auto Scaling for the endpoint's variants (API reference: RegisterScalableTarget,
PutScalingPolicy, DescribeScalableTargets, DescribeScalingPolicies, DeleteScalingPolicy,
DeregisterScalableTarget)."""

from typing import Any

from ..domain.autoscaling import DIMENSION, NAMESPACE, resource_id


class ScalableTargets:
    def __init__(self, autoscaling_client: Any) -> None:
        self._aas = autoscaling_client

    def registered(self, endpoint: str, variant: str) -> dict[str, Any] | None:
        """The variant's ScalableTarget, or None when it is not registered."""
        targets = self._aas.describe_scalable_targets(
            ServiceNamespace=NAMESPACE,
            ResourceIds=[resource_id(endpoint, variant)],
            ScalableDimension=DIMENSION,
        )["ScalableTargets"]
        return targets[0] if targets else None

    def register(self, register: dict[str, Any], policy: dict[str, Any]) -> None:
        """Register (or update) the target, then put (or replace) its policy."""
        self._aas.register_scalable_target(**register)
        self._aas.put_scaling_policy(**policy)

    def deregister(self, endpoint: str, variant: str) -> None:
        """Delete the variant's scaling policies, then deregister it ("Update endpoints that
        use auto scaling", SageMaker developer guide)."""
        rid = resource_id(endpoint, variant)
        policies = self._aas.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        for policy in policies:
            self._aas.delete_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace=NAMESPACE,
                ResourceId=rid,
                ScalableDimension=DIMENSION,
            )
        self._aas.deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )
