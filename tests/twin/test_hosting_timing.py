"""Hosting's verdicts do not depend on how fast the machine is: the twin starts model servers
in real seconds while deployment waits run on its compressed clock, so no real-time start-up
may count against a compressed budget (lifecycle.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlops.twin.sagemaker.hosting import Hosting

if TYPE_CHECKING:
    from conftest import HostingWorld

pytestmark = pytest.mark.twin


@pytest.fixture
def hosting(world: HostingWorld, tmp_path: Path) -> Iterator[Hosting]:
    with world.hosting(tmp_path) as hosting:  # time_scale 0.001: 600 s last 0.6 s
        yield hosting


def test_a_slow_starting_new_fleet_does_not_exceed_the_maximum_execution_timeout(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = f"slow-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(("AllTraffic", "blue")))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    slow = world.config(("AllTraffic", "slow"))  # its model takes 2 s of real time to load
    policy = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                "WaitIntervalInSeconds": 200,
            },
            "TerminationWaitInSeconds": 100,
            "MaximumExecutionTimeoutInSeconds": 600,  # 0.6 s real: less than the start-up
        }
    }
    hosting.update_endpoint(name, slow, policy)
    described = hosting.wait_until_settled(name)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == slow, described.get("FailureReason")
    assert "FailureReason" not in described
