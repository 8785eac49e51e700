"""ConfigureScaling's two steps around an endpoint update (see domain.autoscaling)."""

from __future__ import annotations

from typing import Any, Protocol

from ..models import ConfigureScalingOutput, DeploymentTarget
from .autoscaling import ScalingApi, ScalingConfig, must_deregister, policy_request
from .autoscaling import register_request as target_request


class EndpointReader(Protocol):
    def describe(self, name: str) -> dict[str, Any] | None: ...
    def describe_config(self, name: str) -> dict[str, Any]: ...


def prepare_update(
    plan: DeploymentTarget, variant: str, endpoints: EndpointReader, scaling: ScalingApi
) -> ConfigureScalingOutput:
    """Before UpdateEndpoint: deregister the variant if the update would fail with it
    registered; otherwise keep it, and have the update start the new fleet at the variant's
    current DesiredInstanceCount (RetainAllVariantProperties)."""
    name = plan.endpoint_name
    out = ConfigureScalingOutput(endpoint_name=name, variant=variant, action="prepare")
    if scaling.registered(name, variant) is None:
        return out.model_copy(update={"note": "not registered: the config's instance count"})
    endpoint = endpoints.describe(name)
    current = (
        endpoints.describe_config(endpoint["EndpointConfigName"])["ProductionVariants"]
        if endpoint
        else []
    )
    reason = must_deregister(variant, current, plan.endpoint_config.get("ProductionVariants", []))
    if reason:
        scaling.deregister(name, variant)
        return out.model_copy(update={"note": f"deregistered: {reason}"})
    return out.model_copy(
        update={
            "registered": True,
            "retain_variant_properties": True,
            "note": "kept: only the model changes; the new fleet starts at the current count",
        }
    )


def register_scaling(
    endpoint_name: str,
    variant: str,
    config: ScalingConfig,
    endpoints: EndpointReader,
    scaling: ScalingApi,
) -> ConfigureScalingOutput:
    """After a verified deployment or rollback (and after a failed one, so a deregistration
    made for it does not outlive it): register the live variant with the stack's policy, or
    deregister it when autoscaling is switched off. An endpoint that is not InService with the
    variant is left alone."""
    out = ConfigureScalingOutput(endpoint_name=endpoint_name, variant=variant, action="register")
    config.check()
    if not config.enabled:
        if scaling.registered(endpoint_name, variant) is not None:
            scaling.deregister(endpoint_name, variant)
            return out.model_copy(update={"note": "AutoScaling is off: deregistered"})
        return out.model_copy(update={"note": "AutoScaling is off"})
    endpoint = endpoints.describe(endpoint_name)
    if endpoint is None or endpoint.get("EndpointStatus") != "InService":
        status = endpoint.get("EndpointStatus") if endpoint else "absent"
        return out.model_copy(update={"note": f"not registered: the endpoint is {status}"})
    variants = [v.get("VariantName") for v in endpoint.get("ProductionVariants", [])]
    if variant not in variants:
        return out.model_copy(update={"note": f"not registered: no variant {variant}"})
    scaling.register(
        target_request(config, endpoint_name, variant),
        policy_request(config, endpoint_name, variant),
    )
    return out.model_copy(
        update={
            "registered": True,
            "min_instances": config.min_instances,
            "max_instances": config.max_instances,
            "target_invocations": config.target_invocations,
            "note": "registered",
        }
    )


def configure_scaling(
    action: str,
    plan: DeploymentTarget,
    variant: str,
    config: ScalingConfig,
    endpoints: EndpointReader,
    scaling: ScalingApi,
) -> ConfigureScalingOutput:
    """ConfigureScaling's task: `prepare` before UpdateEndpoint, `register` after it settled.
    An invalid configuration fails both by name (AutoScalingConfigInvalid)."""
    config.check()
    if action == "prepare":
        return prepare_update(plan, variant, endpoints, scaling)
    return register_scaling(plan.endpoint_name, variant, config, endpoints, scaling)
