"""The thread that runs target-tracking policies for SageMaker variants (decision: tracking.py).

Every quarter of a (scaled) period it reads each registered variant's endpoint: while the
endpoint is not InService (an update, a scaling activity under way) the variant is left alone,
as AWS blocks scaling during an update ("Update endpoints that use auto scaling", SageMaker
developer guide). Otherwise it sums the variant's Invocations datapoints (AWS/SageMaker,
dimensions EndpointName and VariantName) per complete period that began after the last
activity, up to the moment hosting has published everything (as the alarm evaluator does,
cloudwatch/cadence.py), divides by CurrentInstanceCount, and asks tracking.decide. A decision
is carried out as the service does it, with UpdateEndpointWeightsAndCapacities
(DesiredInstanceCount); the endpoint is Updating until the new instances answer /ping (or the
removed ones stopped), and the cooldowns count from the moment it is InService again.
`activities` lists what was done (ActivityId, ResourceId, From, To, Cause, StartTime, EndTime);
api.py serves them as DescribeScalingActivities.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from mlops.twin.applicationautoscaling.backend import TrackedVariant, tracked_variants
from mlops.twin.applicationautoscaling.tracking import LOW_PERIODS, PERIOD_SECONDS, decide
from mlops.twin.cloudwatch.index import MetricIndex
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)


@dataclass
class _Track:
    anchor: datetime  # periods begin here: registration seen, or the last activity's end
    busy: bool = False
    scaling: str | None = None  # "out" / "in" while an activity of ours runs
    last_out: datetime | None = None
    last_activity: datetime | None = None
    activity: dict[str, Any] | None = field(default=None, repr=False)


class TargetTracking(Seam):
    def __init__(
        self,
        account: str,
        region: str,
        hosting: Any,
        time_scale: float = 1.0,
        published_until: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.account, self.region = account, region
        self._hosting = hosting
        self._scale = time_scale
        self._published_until = published_until or hosting.metrics_published_until
        self.period_s = PERIOD_SECONDS * time_scale
        self._index = MetricIndex()
        self._tracks: dict[str, _Track] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.activities: list[dict[str, Any]] = []

    def install(self) -> None:
        if self._thread is None and not self._stopping.is_set():
            self._thread = threading.Thread(target=self._run, name="target-tracking", daemon=True)
            self._thread.start()

    def uninstall(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.wait(max(0.05, self.period_s / 4)):
            try:
                self.evaluate()
            except Exception:  # one bad look must not end scaling
                log.exception("target tracking evaluation failed")

    def _aws_seconds(self, since: datetime | None, now: datetime) -> float | None:
        return None if since is None else (now - since).total_seconds() / self._scale

    def _periods(self, tracked: TrackedVariant, anchor: datetime, end: datetime) -> list[float]:
        """Invocations of each complete period from `anchor` to `end` (the last LOW_PERIODS)."""
        length = timedelta(seconds=self.period_s)
        complete = int((end - anchor) / length) if end > anchor else 0
        dimensions = {("EndpointName", tracked.endpoint), ("VariantName", tracked.variant)}
        sums = []
        for k in range(max(0, complete - LOW_PERIODS), complete):
            start = anchor + k * length
            points = self._index.between("AWS/SageMaker", "Invocations", start, start + length)
            sums.append(
                sum(
                    float(datum.value)
                    for _, datum in points
                    if {(d.name, d.value) for d in datum.dimensions} == dimensions
                )
            )
        return sums

    def evaluate(self, now: datetime | None = None) -> None:
        """One look at every tracked variant (the thread's step; tests may call it)."""
        with self._lock:
            now = now or datetime.now(UTC)
            self._index.update(cloudwatch_backends[self.account][self.region].metric_data)
            settled = self._published_until()
            tracked = tracked_variants(self.account, self.region)
            for gone in set(self._tracks) - {t.resource_id for t in tracked}:
                del self._tracks[gone]  # deregistered: a new registration starts afresh
            for variant in tracked:
                track = self._tracks.setdefault(variant.resource_id, _Track(anchor=now))
                self._look(variant, track, now, min(now, settled) if settled else None)

    def _look(
        self, tracked: TrackedVariant, track: _Track, now: datetime, end: datetime | None
    ) -> None:
        try:
            endpoint = self._hosting.describe_endpoint(tracked.endpoint)
        except Exception:  # no such endpoint (any more): nothing to scale
            return
        if endpoint["EndpointStatus"] != "InService":
            track.busy = True
            return
        summary = next(
            (
                v
                for v in endpoint.get("ProductionVariants", [])
                if v["VariantName"] == tracked.variant
            ),
            None,
        )
        if summary is None:
            return
        current = int(summary["CurrentInstanceCount"])
        if track.busy:  # an update or our activity ended: the count may have changed
            track.busy, track.anchor = False, now
            if track.scaling is not None:
                track.last_activity = now
                track.last_out = now if track.scaling == "out" else track.last_out
                if track.activity is not None:
                    track.activity.update(EndTime=now, Reached=current)
                track.scaling, track.activity = None, None
        per_instance = (
            [total / current for total in self._periods(tracked, track.anchor, end)] if end else []
        )
        decision = decide(
            current,
            per_instance,
            tracked.target,
            (tracked.min_capacity, tracked.max_capacity),
            self._aws_seconds(track.last_out, now),
            self._aws_seconds(track.last_activity, now),
            (tracked.scale_out_cooldown, tracked.scale_in_cooldown),
        )
        if decision is None or decision.desired == current:
            return
        try:
            self._hosting.update_endpoint_weights_and_capacities(
                tracked.endpoint,
                [{"VariantName": tracked.variant, "DesiredInstanceCount": decision.desired}],
            )
        except Exception as exc:  # the endpoint started an update meanwhile: look again later
            log.info("scaling %s deferred: %s", tracked.resource_id, exc)
            return
        track.busy, track.scaling = True, "out" if decision.desired > current else "in"
        track.activity = {
            "ActivityId": str(uuid.uuid4()),
            "ResourceId": tracked.resource_id,
            "From": current,
            "To": decision.desired,
            "Cause": decision.cause,
            "StartTime": now,
        }
        self.activities.append(track.activity)
        log.info("scaling %s from %d to %d: %s", tracked.resource_id, current,
                 decision.desired, decision.cause)  # fmt: skip
