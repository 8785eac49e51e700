"""The endpoint status machine, run on one worker thread per operation.

Create: Creating -> InService | Failed (FailureReason).
Update (blue/green, SageMaker "deployment guardrails"): Updating; provision the green fleet
beside blue; for each traffic step shift the green share, then bake WaitIntervalInSeconds
while polling the rollback alarms; bake TerminationWaitInSeconds; stop blue; InService on
the new config. If green never gets healthy, an alarm reads ALARM during a bake, or
MaximumExecutionTimeoutInSeconds passes: all traffic back to blue, stop green, InService
on the OLD config with FailureReason (NB/SMG: a rollback ends InService).
All waits are multiplied by `time_scale`. MaximumExecutionTimeoutInSeconds counts from the
moment the green fleet is healthy: the twin starts a model server in real seconds (it does not
model provisioning time), so charging that start-up to a budget on the compressed clock would
roll back a good version whenever the machine is busy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mlops.twin.sagemaker.hosting.deployment import DeploymentPlan
from mlops.twin.sagemaker.hosting.fleet import Fleet, FleetStartError
from mlops.twin.sagemaker.hosting.moto_store import EndpointConfigSpec
from mlops.twin.sagemaker.hosting.state import Endpoint, PendingDeployment

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The endpoint was deleted (or the twin shut down) while the operation ran."""


class Deployer:
    def __init__(
        self,
        lock: threading.RLock,
        emit: Callable[[Endpoint], None],
        start_fleet: Callable[[Endpoint, EndpointConfigSpec], Fleet],
        alarm_state: Callable[[str], str] | None,
        time_scale: float,
        startup_timeout: float = 120.0,
    ) -> None:
        self._startup_timeout = startup_timeout
        self._lock = lock
        self._emit = emit
        self._start_fleet = start_fleet
        self._alarm_state = alarm_state
        self._scale = time_scale

    # -- steps ---------------------------------------------------------------------------
    def _step(self, ep: Endpoint, change: Callable[[], Any], emit: bool = True) -> None:
        """Apply a state change under the lock, then tell the listener (outside the lock)."""
        with self._lock:
            if ep.cancel.is_set():
                raise Cancelled
            change()
            ep.touch()
        if emit:
            self._emit(ep)

    def _start_pending(
        self, ep: Endpoint, config: EndpointConfigSpec, if_unhealthy: str
    ) -> Fleet | None:
        """Show `config` as the pending deployment and start its fleet. A fleet that cannot
        get healthy ends the operation: status `if_unhealthy`, the reason as FailureReason."""
        self._step(ep, lambda: setattr(ep, "pending", self._pending(config)))
        try:
            fleet = self._start_fleet(ep, config)
        except FleetStartError as exc:
            reason = str(exc)
            self._step(ep, lambda: self._finish(ep, if_unhealthy, reason))
            return None
        if ep.cancel.is_set():
            fleet.stop()
            raise Cancelled
        return fleet

    def _tripped_alarm(self, alarms: tuple[str, ...]) -> str | None:
        if self._alarm_state is None:
            return None
        for name in alarms:
            try:
                if self._alarm_state(name) == "ALARM":
                    return name
            except Exception:  # an unreadable alarm is not a tripped one
                log.exception("reading alarm %s failed", name)
        return None

    def _bake(
        self, ep: Endpoint, seconds: int, plan: DeploymentPlan, deadline: float
    ) -> str | None:
        """Wait `seconds` (scaled) polling alarms; return a rollback reason or None."""
        end = time.monotonic() + seconds * self._scale
        poll = min(1.0, max(0.01, 10.0 * self._scale))
        while True:
            alarm = self._tripped_alarm(plan.alarms)
            if alarm is not None:
                return (
                    f"Deployment rolled back: CloudWatch alarm {alarm} went to ALARM "
                    "while baking; all traffic was shifted back to the old fleet."
                )
            if time.monotonic() > deadline:
                return (
                    f"Deployment rolled back: MaximumExecutionTimeoutInSeconds "
                    f"({plan.max_execution}) was exceeded."
                )
            remaining = end - time.monotonic()
            if remaining <= 0:
                return None
            if ep.cancel.wait(min(remaining, poll)):
                raise Cancelled

    # -- operations ----------------------------------------------------------------------
    def create(self, ep: Endpoint, config: EndpointConfigSpec) -> None:
        try:
            fleet = self._start_pending(ep, config, if_unhealthy="Failed")
            if fleet is None:
                return

            def attach() -> None:
                ep.blue = fleet
                self._finish(ep, "InService", None)

            self._attach_or_stop(ep, fleet, attach)
        except Cancelled:
            return

    def update(self, ep: Endpoint, config: EndpointConfigSpec, plan: DeploymentPlan) -> None:
        try:
            self._update(ep, config, plan)
        except Cancelled:
            return

    def _update(self, ep: Endpoint, config: EndpointConfigSpec, plan: DeploymentPlan) -> None:
        green = self._start_pending(ep, config, if_unhealthy="InService")  # blue keeps serving
        if green is None:
            return
        deadline = time.monotonic() + plan.max_execution * self._scale
        # Attaching green changes nothing visible: the first traffic shift reports it.
        self._attach_or_stop(ep, green, lambda: setattr(ep, "green", green), emit=False)
        pending = ep.pending
        assert pending is not None
        for number, share in enumerate(plan.shares, start=1):
            message = f"Step {number}/{len(plan.shares)}: {share:.0%} of traffic to the new fleet"

            def shift(share: float = share, message: str = message) -> None:
                ep.green_share = share
                pending.set_status("ActivatingTraffic", message)

            self._step(ep, shift)
            self._step(
                ep,
                lambda m=message: pending.set_status(
                    "Baking", f"{m}; baking {plan.wait_interval}s"
                ),
            )
            reason = self._bake(ep, plan.wait_interval, plan, deadline)
            if reason:
                return self._rollback(ep, green, reason)
        self._step(
            ep,
            lambda: pending.set_status(
                "Baking",
                f"Final baking period of {plan.termination_wait}s before the old fleet "
                "is terminated",
            ),
        )
        reason = self._bake(ep, plan.termination_wait, plan, deadline)
        if reason:
            return self._rollback(ep, green, reason)
        old: list[Fleet] = []

        def promote() -> None:
            if ep.blue is not None:
                old.append(ep.blue)
            ep.blue, ep.green, ep.green_share = green, None, 0.0
            ep.config_name = config.name
            ep.pending = None  # still Updating while the old fleet terminates

        self._step(ep, promote, emit=False)
        for fleet in old:
            fleet.stop()
        self._step(ep, lambda: self._finish(ep, "InService", None))

    def _rollback(self, ep: Endpoint, green: Fleet, reason: str) -> None:
        pending = ep.pending
        assert pending is not None

        def back_to_blue() -> None:
            ep.green_share = 0.0
            pending.set_status("Deleting", "Rolling back: " + reason)

        self._step(ep, back_to_blue)
        with self._lock:
            ep.green = None
        green.stop()
        self._step(ep, lambda: self._finish(ep, "InService", reason))

    def update_weights(self, ep: Endpoint, desired: list[dict[str, Any]]) -> None:
        """UpdateEndpointWeightsAndCapacities: Desired* shown while Updating, then applied: a
        changed instance count starts or stops model-server processes (fleet.grow / shrink),
        and CurrentInstanceCount is the number that serve."""
        try:
            fleet = ep.blue
            assert fleet is not None
            self._step(ep, lambda: ep.touch("Updating"))
            if ep.cancel.wait(min(1.0, self._scale)):  # a (scaled) 1 s rollout
                return
            for item in desired:
                variant = fleet.variant(item["VariantName"])
                assert variant is not None
                have, wanted = len(fleet.instances(variant.name)), variant.desired_instance_count
                if wanted > have:
                    fleet.grow(variant.name, wanted, self._startup_timeout, ep.cancel)
                elif wanted < have:
                    fleet.shrink(variant.name, wanted)

            def apply() -> None:
                for item in desired:
                    variant = fleet.variant(item["VariantName"])
                    assert variant is not None
                    variant.current_weight = variant.desired_weight
                    variant.current_instance_count = len(fleet.instances(variant.name))
                self._finish(ep, "InService", None)

            self._step(ep, apply)
        except Cancelled:
            return

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _pending(config: EndpointConfigSpec) -> PendingDeployment:
        pending = PendingDeployment(config)
        pending.set_status("Creating", "Launching instances with the new model")
        return pending

    @staticmethod
    def _finish(ep: Endpoint, status: str, reason: str | None) -> None:
        ep.pending = None
        ep.failure_reason = reason
        ep.touch(status)

    def _attach_or_stop(
        self, ep: Endpoint, fleet: Fleet, attach: Callable[[], None], emit: bool = True
    ) -> None:
        try:
            self._step(ep, attach, emit)
        except Cancelled:
            fleet.stop()
            raise
