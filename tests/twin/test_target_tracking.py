"""Autoscaling in the twin: target tracking on SageMakerVariantInvocationsPerInstance changes a
variant's instance count, and hosting serves with that many model-server processes.

A Hosting seam on moto (server mode) publishes its invocation metrics to moto's CloudWatch; the
TargetTracking seam reads them and scales through UpdateEndpointWeightsAndCapacities. The clock
runs at 1/100: a one-minute period lasts 0.6 s.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.twin.applicationautoscaling import DeregisterDeletesPolicies, TargetTracking
from mlops.twin.applicationautoscaling.api import describe_scaling_activities
from mlops.twin.applicationautoscaling.tracking import Decision, decide
from mlops.twin.cloudwatch import metrics
from mlops.twin.sagemaker.hosting import Hosting

ACCOUNT, REGION = "123456789012", "us-east-1"
SCALE = 0.01
JSON = "application/json"


def _policy(scaling: Any, endpoint: str, low: int, high: int, target: float) -> None:
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    common = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource,
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**common, MinCapacity=low, MaxCapacity=high)
    scaling.put_scaling_policy(
        **common,
        PolicyName="invocations-per-instance",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 120,
        },
    )


@pytest.fixture
def scaled(world: Any, tmp_path: Path) -> Iterator[tuple[Hosting, TargetTracking, list[str]]]:
    statuses: list[str] = []
    cloudwatch = world.moto.client("cloudwatch")
    hosting_cm = Hosting(
        ACCOUNT,
        REGION,
        world.s3_factory,
        tmp_path / "work",
        base_env={"AWS_ENDPOINT_URL": world.moto.url, "AWS_DEFAULT_REGION": REGION},
        on_endpoint_change=lambda described: statuses.append(described["EndpointStatus"]),
        put_metrics=lambda namespace, data: metrics.put_metric_data(cloudwatch, namespace, data),
        time_scale=SCALE,
        startup_timeout=60,
    )
    with (
        hosting_cm as hosting,
        DeregisterDeletesPolicies(ACCOUNT, REGION),
        TargetTracking(ACCOUNT, REGION, hosting, SCALE) as tracking,
    ):
        yield hosting, tracking, statuses


def _count(hosting: Hosting, name: str) -> tuple[str, int, int]:
    described = hosting.describe_endpoint(name)
    [variant] = described["ProductionVariants"]
    return described["EndpointStatus"], variant["CurrentInstanceCount"], len(hosting.servers(name))


def _wait_for(hosting: Hosting, name: str, count: int, timeout: float) -> float:
    started = time.monotonic()
    while _count(hosting, name) != ("InService", count, count):
        assert time.monotonic() - started < timeout, _count(hosting, name)
        time.sleep(0.05)
    return time.monotonic() - started


def test_sustained_load_scales_out_and_a_quiet_period_scales_back_in(
    scaled: tuple[Hosting, TargetTracking, list[str]], world: Any
) -> None:
    hosting, tracking, statuses = scaled
    name = f"ep-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(("AllTraffic", "blue", 1.0, 1)))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    # Target 5 invocations per instance per minute: any steady load is far above it
    _policy(world.moto.client("application-autoscaling"), name, 1, 3, 5.0)
    stop, answered = threading.Event(), []

    def load() -> None:
        while not stop.is_set():
            body = json.dumps({"instances": [1]}).encode()
            answered.append(hosting.invoke(name, body, JSON, JSON)[0])
            time.sleep(0.005)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        out_s = _wait_for(hosting, name, 3, timeout=60)
    finally:
        stop.set()
        loader.join()
    pids = {server.popen.pid for server in hosting.servers(name)}
    assert len(pids) == 3 and all(server.running for server in hosting.servers(name))
    assert set(answered) == {200}  # no request failed while instances were added
    assert "Updating" in statuses  # the activity shows on the endpoint, as AWS's does
    in_s = _wait_for(hosting, name, 1, timeout=60)
    [out, back] = [(a["From"], a["To"]) for a in tracking.activities]
    assert out[0] == 1 and out[1] > 1 and back[1] == 1
    # DescribeScalingActivities: most recent first; an activity ends when the seam next looks
    # at the endpoint (within a quarter period) after it is InService again
    deadline = time.monotonic() + 10
    while any(a.get("EndTime") is None for a in tracking.activities):
        assert time.monotonic() < deadline, tracking.activities
        time.sleep(0.05)
    listed = describe_scaling_activities(tracking, {"ServiceNamespace": "sagemaker"})
    assert [a["Description"] for a in listed["ScalingActivities"]] == [
        "Setting desired instance count to 1.",
        f"Setting desired instance count to {out[1]}.",
    ]
    assert {a["StatusCode"] for a in listed["ScalingActivities"]} == {"Successful"}
    paged = describe_scaling_activities(
        tracking, {"ServiceNamespace": "sagemaker", "MaxResults": 1}
    )
    assert len(paged["ScalingActivities"]) == 1 and paged["NextToken"] == "1"
    print(f"scale out 1->3: {out_s:.1f} s twin; scale in to 1: {in_s:.1f} s twin")


def test_a_registration_outside_the_range_is_brought_into_it(
    scaled: tuple[Hosting, TargetTracking, list[str]], world: Any
) -> None:
    hosting, _, _ = scaled
    name = f"ep-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(("AllTraffic", "blue", 1.0, 1)))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    _policy(world.moto.client("application-autoscaling"), name, 2, 3, 1000.0)
    _wait_for(hosting, name, 2, timeout=60)


def test_deregistering_a_target_deletes_its_policies(
    scaled: tuple[Hosting, TargetTracking, list[str]], world: Any
) -> None:
    scaling = world.moto.client("application-autoscaling")
    _policy(scaling, "ep-gone", 1, 2, 10.0)
    scaling.deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/ep-gone/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    )
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert [p for p in policies if "ep-gone" in p["ResourceId"]] == []


# -- the decision ------------------------------------------------------------------------------
BOUNDS, COOLDOWNS = (1, 4), (60, 300)


def test_three_periods_above_target_scale_out_proportionally() -> None:
    decision = decide(1, [30.0, 30.0, 25.0], 10.0, BOUNDS, None, None, COOLDOWNS)
    assert decision is not None and decision.desired == 3  # ceil(1 x 25 / 10)


def test_two_periods_above_target_are_not_enough() -> None:
    assert decide(1, [30.0, 30.0], 10.0, BOUNDS, None, None, COOLDOWNS) is None


def test_scale_out_waits_for_its_cooldown() -> None:
    assert decide(1, [30.0] * 3, 10.0, BOUNDS, 59.0, 59.0, COOLDOWNS) is None
    assert decide(1, [30.0] * 3, 10.0, BOUNDS, 60.0, 60.0, COOLDOWNS) == Decision(
        3, "SageMakerVariantInvocationsPerInstance 30 above the target 10 for 3 periods"
    )


def test_scale_in_needs_fifteen_quiet_periods_and_its_cooldown() -> None:
    assert decide(3, [1.0] * 14, 10.0, BOUNDS, None, None, COOLDOWNS) is None
    assert decide(3, [1.0] * 15, 10.0, BOUNDS, None, 299.0, COOLDOWNS) is None
    decision = decide(3, [0.0] * 10 + [5.0] + [0.0] * 4, 10.0, BOUNDS, None, 300.0, COOLDOWNS)
    assert decision is not None and decision.desired == 2  # the busiest period: 3 x 5 / 10


def test_a_period_near_the_target_keeps_the_count() -> None:
    assert decide(2, [9.5] * 15, 10.0, BOUNDS, None, None, COOLDOWNS) is None


def test_the_count_never_leaves_the_range() -> None:
    assert decide(1, [1000.0] * 3, 10.0, BOUNDS, None, None, COOLDOWNS) == Decision(
        4, "SageMakerVariantInvocationsPerInstance 1000 above the target 10 for 3 periods"
    )
    assert decide(5, [], 10.0, BOUNDS, None, None, COOLDOWNS) == Decision(
        4, "the count 5 is outside [1, 4]"
    )
