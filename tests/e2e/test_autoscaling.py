"""Autoscaling of the live variant in the whole stack (AutoScaling=true, 1 to 2 instances,
target 2 invocations per instance per minute): the DeployPipeline registers the variant after
its first deployment; sustained load scales it out to two model-server processes; a deployment
under that load rolls the new version out at the scaled count and registers it again with the
same policy; a quiet period scales it back in to one. The test reports the scale-out and
scale-in times, in twin seconds and on the AWS clock (x100)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.config import Config

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import register_version
from mlops.twin.stack import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

PARAMETERS = {
    "AutoScaling": "true",
    "AutoScalingMinInstances": "1",
    "AutoScalingMaxInstances": "2",
    "AutoScalingTargetInvocations": "2",
    "DeploymentStrategy": "ALL_AT_ONCE",
    "MaxExecutionTimeoutSeconds": "3600",
}
SCALING_BOUND_S = 120.0  # model servers start in real seconds; generous for a busy machine


@pytest.fixture(scope="module")
def scaled(harness_of: Any) -> Iterator[Any]:
    twin = start_stack(**PARAMETERS)
    try:
        harness = harness_of(twin)
        for run in harness.run_upload("first.csv", harness.dataset()):
            harness.assert_status(run, "SUCCEEDED")
        yield harness
    finally:
        twin.close()


class Load:
    """Invokes the endpoint back to back on a thread; counts answers and failures."""

    def __init__(self, harness: Any) -> None:
        self.runtime = harness.twin.cloud.client(
            "sagemaker-runtime", config=Config(retries={"total_max_attempts": 1})
        )
        self.endpoint = harness.twin.outputs["EndpointName"]
        self.body = sample_rows(harness.dataset(), 1)[0].encode()
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="text/csv", Body=self.body
                )
                self.ok += 1
            except self.runtime.exceptions.ClientError:
                self.failed += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _instances(harness: Any) -> tuple[str, int, int]:
    endpoint = harness.twin.outputs["EndpointName"]
    described = harness.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    [variant] = described["ProductionVariants"]
    servers = len(harness.twin.cloud.hosting.servers(endpoint))
    return described["EndpointStatus"], variant["CurrentInstanceCount"], servers


def _wait_for_instances(harness: Any, count: int) -> float:
    started = time.monotonic()
    while _instances(harness) != ("InService", count, count):
        assert time.monotonic() - started < SCALING_BOUND_S, _instances(harness)
        time.sleep(0.1)
    return time.monotonic() - started


def _registration(harness: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    scaling = harness.client("application-autoscaling")
    [target] = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    [policy] = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return target, policy


def _deploy_under_observation(harness: Any) -> tuple[Any, int]:
    """Registers a new version of the live model, waits for its DeployPipeline; returns the
    execution and the most server processes the endpoint had meanwhile (blue + green)."""
    endpoint = harness.twin.outputs["EndpointName"]
    v1 = harness.model_packages()[0]["ModelPackageArn"]
    before, most, done = set(harness.watcher.executions), [0], threading.Event()

    def count_servers() -> None:
        while not done.wait(0.05):
            most[0] = max(most[0], len(harness.twin.cloud.hosting.servers(endpoint)))

    counter = threading.Thread(target=count_servers)
    counter.start()
    try:
        register_version(harness.twin, v1)
        harness.wait_for(lambda w: set(w.executions) - before and not w.running(), 240)
    finally:
        done.set()
        counter.join()
    [deploy] = [
        view
        for arn, view in harness.watcher.executions.items()
        if arn not in before and view.workflow == "DeployPipeline"
    ]
    return deploy, most[0]


def test_load_scales_out_a_deployment_keeps_the_scaling_and_quiet_scales_in(
    scaled: Any, report: Any
) -> None:
    target, policy = _registration(scaled)
    endpoint = scaled.twin.outputs["EndpointName"]
    assert target["ResourceId"] == f"endpoint/{endpoint}/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 2.0
    assert _instances(scaled) == ("InService", 1, 1)

    loaded = datetime.now(UTC)
    with Load(scaled) as load:
        out_s = _wait_for_instances(scaled, 2)
        deploy, most = _deploy_under_observation(scaled)
        scaled.assert_status(deploy, "SUCCEEDED")
        # The new version went live at the scaled count: two green processes beside two blue
        assert most == 4
        assert _instances(scaled)[1:] == (2, 2)
    assert load.failed == 0 and load.ok > 0
    states = scaled.states_entered(deploy.arn)
    assert states.index("PrepareScaling") < states.index("UpdateEndpoint")
    assert states.index("SmokeTest") < states.index("ConfigureScaling")
    described = scaled.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert "-v2-" in described["EndpointConfigName"]
    # Registered again after the deployment, with the same range and policy
    target_after, policy_after = _registration(scaled)
    assert (target_after["MinCapacity"], target_after["MaxCapacity"]) == (1, 2)
    assert policy_after["TargetTrackingScalingPolicyConfiguration"] == tracking

    quiet = datetime.now(UTC)
    in_s = _wait_for_instances(scaled, 1)
    # What the scaling did, as Application Auto Scaling tells it (most recent first; the
    # scale-in is Successful once target tracking sees the endpoint InService again)
    scaling, deadline = scaled.client("application-autoscaling"), time.monotonic() + 10
    while True:
        activities = scaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=target["ResourceId"]
        )["ScalingActivities"]
        if {a["StatusCode"] for a in activities} == {"Successful"}:
            break
        assert time.monotonic() < deadline, activities
        time.sleep(0.1)
    back, out = activities
    assert [a["Description"] for a in activities] == [
        "Setting desired instance count to 1.",
        "Setting desired instance count to 2.",
    ]
    out_decided = (out["StartTime"] - loaded).total_seconds()
    in_decided = (back["StartTime"] - quiet).total_seconds()
    report(
        f"scale out 1->2: decided {out_decided:.1f} s twin (~{out_decided * 100:.0f} s AWS) "
        f"after the load began, the second instance serving {out_s:.1f} s after it; "
        f"scale in 2->1: decided {in_decided:.1f} s twin (~{in_decided * 100:.0f} s AWS) "
        f"after the load stopped, done {in_s:.1f} s after it; "
        f"{load.ok} requests served, {load.failed} failed"
    )
