"""Validate UpdateEndpoint's DeploymentConfig and turn it into a traffic-shifting plan.

Limits from botocore's sagemaker service-2.json (BlueGreenUpdatePolicy, TrafficRoutingConfig,
CapacitySize, AutoRollbackConfig) and the API reference: canary <= 50% of the variant's
instance count, linear step 10-50%, waits 0-3600 s, MaximumExecutionTimeoutInSeconds
600-28800 and larger than the waits, 1-10 alarms. No policy = blue/green ALL_AT_ONCE.
Range messages use AWS's "1 validation error detected" form; the wording of the semantic
checks (canary size, variant names, timeout vs waits) is inferred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlops.twin.sagemaker.hosting.errors import HostingError
from mlops.twin.sagemaker.hosting.fleet import Fleet
from mlops.twin.sagemaker.hosting.moto_store import EndpointConfigSpec

DEFAULT_MAX_EXECUTION_SECONDS = 28800
TRAFFIC_PATH = "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration"


@dataclass(frozen=True)
class DeploymentPlan:
    """`shares` = green fleet's cumulative traffic share after each step (last is 1.0)."""

    routing_type: str
    shares: tuple[float, ...]
    wait_interval: int
    termination_wait: int
    max_execution: int
    alarms: tuple[str, ...]


def _range(value: Any, path: str, low: int, high: int | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise HostingError(
            f"1 validation error detected: Value '{value}' at '{path}' "
            "failed to satisfy constraint: Member must be an integer"
        )
    if value < low:
        raise HostingError(
            f"1 validation error detected: Value '{value}' at '{path}' failed to "
            f"satisfy constraint: Member must have value greater than or equal "
            f"to {low}"
        )
    if high is not None and value > high:
        raise HostingError(
            f"1 validation error detected: Value '{value}' at '{path}' failed to "
            f"satisfy constraint: Member must have value less than or equal "
            f"to {high}"
        )
    return value


def _fraction(size: dict[str, Any] | None, path: str, green: EndpointConfigSpec) -> float:
    """Traffic fraction one step turns on; the smallest variant decides (conservative)."""
    if not size:
        raise HostingError(f"{path} is required for this traffic routing type.")
    value = _range(size.get("Value"), f"{path}.value", 1, None)
    kind = size.get("Type")
    if kind == "CAPACITY_PERCENT":
        return value / 100.0
    if kind == "INSTANCE_COUNT":
        return min(value / v.desired_instance_count for v in green.variants)
    raise HostingError(
        f"1 validation error detected: Value '{kind}' at '{path}.type' failed "
        "to satisfy constraint: Member must satisfy enum value set: "
        "[INSTANCE_COUNT, CAPACITY_PERCENT]"
    )


def _shares(routing: dict[str, Any], green: EndpointConfigSpec) -> tuple[float, ...]:
    kind = routing.get("Type")
    if kind == "ALL_AT_ONCE":
        return (1.0,)
    if kind == "CANARY":
        canary = _fraction(routing.get("CanarySize"), f"{TRAFFIC_PATH}.canarySize", green)
        if canary > 0.5:
            raise HostingError(
                "CanarySize must be less than or equal to 50% of the variant's "
                "total instance count."
            )
        return (canary, 1.0)
    if kind == "LINEAR":
        step = _fraction(routing.get("LinearStepSize"), f"{TRAFFIC_PATH}.linearStepSize", green)
        if not 0.1 <= step <= 0.5:
            raise HostingError(
                "LinearStepSize must be 10-50% of the variant's total instance count."
            )
        steps = math.ceil(round(1.0 / step, 9))
        return tuple(min(1.0, round(i * step, 9)) for i in range(1, steps + 1))
    raise HostingError(
        f"1 validation error detected: Value '{kind}' at '{TRAFFIC_PATH}.type' "
        "failed to satisfy constraint: Member must satisfy enum value set: "
        "[ALL_AT_ONCE, CANARY, LINEAR]"
    )


def _alarms(config: dict[str, Any]) -> tuple[str, ...]:
    rollback = config.get("AutoRollbackConfiguration")
    if rollback is None:
        return ()
    alarms = rollback.get("Alarms") or []
    if not 1 <= len(alarms) <= 10:
        raise HostingError(
            "1 validation error detected: Value at 'deploymentConfig."
            "autoRollbackConfiguration.alarms' failed to satisfy constraint: "
            "Member must have length between 1 and 10"
        )
    return tuple(a["AlarmName"] for a in alarms)


def build_plan(
    config: dict[str, Any] | None, green: EndpointConfigSpec, blue: EndpointConfigSpec
) -> DeploymentPlan:
    """Validate `config` as AWS does and return the plan; raise HostingError if invalid."""
    config = config or {}
    if config.get("RollingUpdatePolicy"):
        if config.get("BlueGreenUpdatePolicy"):
            raise HostingError(
                "Only one of BlueGreenUpdatePolicy or RollingUpdatePolicy may "
                "be specified in DeploymentConfig."
            )
        raise HostingError(
            "RollingUpdatePolicy is not supported by the twin; use BlueGreenUpdatePolicy."
        )
    alarms = _alarms(config)
    policy = config.get("BlueGreenUpdatePolicy")
    if not policy:
        return DeploymentPlan("ALL_AT_ONCE", (1.0,), 0, 0, DEFAULT_MAX_EXECUTION_SECONDS, alarms)
    routing = policy.get("TrafficRoutingConfiguration")
    if not routing:
        raise HostingError("TrafficRoutingConfiguration is required in BlueGreenUpdatePolicy.")
    wait = _range(
        routing.get("WaitIntervalInSeconds"), f"{TRAFFIC_PATH}.waitIntervalInSeconds", 0, 3600
    )
    termination = _range(
        policy.get("TerminationWaitInSeconds", 0),
        "deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds",
        0,
        3600,
    )
    maximum = _range(
        policy.get("MaximumExecutionTimeoutInSeconds", DEFAULT_MAX_EXECUTION_SECONDS),
        "deploymentConfig.blueGreenUpdatePolicy.maximumExecutionTimeoutInSeconds",
        600,
        28800,
    )
    if maximum <= wait + termination:
        raise HostingError(
            "MaximumExecutionTimeoutInSeconds must be greater than the total of "
            "WaitIntervalInSeconds and TerminationWaitInSeconds."
        )
    shares = _shares(routing, green)
    if routing["Type"] != "ALL_AT_ONCE":
        old = sorted(v.name for v in blue.variants)
        new = sorted(v.name for v in green.variants)
        if old != new:
            raise HostingError(
                f"{routing['Type']} traffic routing requires the same variant "
                f"names in the old and new endpoint configs: {old} != {new}."
            )
    return DeploymentPlan(routing["Type"], shares, wait, termination, maximum, alarms)


def set_desired_weights(fleet: Fleet, desired: list[dict[str, Any]], endpoint_arn: str) -> None:
    """UpdateEndpointWeightsAndCapacities: validate every item as AWS does, then set the
    variants' desired weight and instance count (applied once the update runs)."""
    for item in desired:
        variant = fleet.variant(item.get("VariantName", ""))
        if variant is None:
            raise HostingError(
                f'The variant name(s) "{item.get("VariantName")}" is/are '
                f'not present in the endpoint "{endpoint_arn}".'
            )
        if "DesiredWeight" not in item and "DesiredInstanceCount" not in item:
            raise HostingError(
                "Either DesiredWeight or DesiredInstanceCount must be "
                f"specified for variant {variant.name}."
            )
        if float(item.get("DesiredWeight", 0)) < 0:
            raise HostingError("DesiredWeight must be greater than or equal to 0.")
    for item in desired:
        variant = fleet.variant(item["VariantName"])
        assert variant is not None
        variant.desired_weight = float(item.get("DesiredWeight", variant.desired_weight))
        variant.desired_instance_count = int(
            item.get("DesiredInstanceCount", variant.desired_instance_count)
        )
