"""LINEAR and ALL_AT_ONCE rollouts in the twin: a good new version goes live through the
strategy the stack is configured with, traffic shifting as the strategy says."""

from __future__ import annotations

import threading
import time

import pytest

from mlops.demo.scenarios import register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def green_weights(harness, stop: threading.Event, seen: list[float]) -> None:
    """Records the new fleet's traffic weight each time DescribeEndpoint shows a rollout."""
    sagemaker = harness.client("sagemaker")
    while not stop.is_set():
        endpoint = sagemaker.describe_endpoint(EndpointName=harness.twin.outputs["EndpointName"])
        pending = endpoint.get("PendingDeploymentSummary")
        if pending:
            weight = pending["ProductionVariants"][0].get("CurrentWeight")
            if weight is not None and (not seen or seen[-1] != weight):
                seen.append(weight)
        stop.wait(0.1)


@pytest.mark.parametrize(
    ("strategy", "extra", "expected_steps"),
    [
        ("LINEAR", {"LinearStepPercent": "34"}, [0.34, 0.68, 1.0]),
        ("ALL_AT_ONCE", {}, [1.0]),
    ],
)
def test_good_version_goes_live_through_the_configured_strategy(
    make_stack, strategy, extra, expected_steps
):
    harness = make_stack(DeploymentStrategy=strategy, **extra)
    twin = harness.twin
    harness.run_upload("first.csv", harness.dataset())
    v1 = harness.model_packages()[0]["ModelPackageArn"]
    stop, seen = threading.Event(), []
    poller = threading.Thread(target=green_weights, args=(harness, stop, seen))
    poller.start()
    before = set(harness.watcher.executions)
    register_version(twin, v1)
    harness.wait_for(lambda w: set(w.executions) - before and not w.running(), 180)
    stop.set()
    poller.join()
    (deploy,) = [
        v
        for arn, v in harness.watcher.executions.items()
        if arn not in before and v.workflow == "DeployPipeline"
    ]
    harness.assert_status(deploy, "SUCCEEDED")
    endpoint = harness.client("sagemaker").describe_endpoint(
        EndpointName=twin.outputs["EndpointName"]
    )
    assert "-v2-" in endpoint["EndpointConfigName"]
    routing = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == strategy
    # The new fleet's share of traffic moved in the strategy's steps (those the poller saw).
    shares = [round(w, 2) for w in seen if w > 0]
    assert shares and set(shares) <= set(expected_steps)
    if strategy == "LINEAR":
        assert len(shares) >= 2, f"linear rollout seen as {shares}"
    time.sleep(0.2)
    assert len(twin.cloud.hosting.servers(twin.outputs["EndpointName"])) == 1
