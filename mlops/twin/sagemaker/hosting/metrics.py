"""Endpoint invocation metrics in the AWS/SageMaker namespace, batched to put_metrics.

As AWS publishes them (SageMaker developer guide, "Monitor with CloudWatch"): per variant
with dimensions EndpointName + VariantName — Invocations, Invocation4XXErrors,
Invocation5XXErrors (0/1 per request, so Average = error rate), ModelLatency and
OverheadLatency in microseconds. During a blue/green deployment the new fleet's datapoints
are also published with EndpointConfigName=<new config> (deployment-guardrails
configuration guide), so alarms can watch the green fleet alone. AWS has no synthetic
endpoint-wide aggregate: "AllTraffic" is the variant name the SageMaker SDK gives a
single-variant endpoint, so alarms on VariantName=AllTraffic need a variant of that name.

Each datapoint carries the time it was made (stamped when the buffer takes it), never the time
it was flushed. `published_until()` is the moment up to which every datapoint has reached
CloudWatch: the alarm evaluator judges no later than that (cloudwatch/alarms.py), so a period
never looks empty because its datapoints were still in this buffer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlops.twin.cloudwatch.cadence import metrics_flush_interval

log = logging.getLogger(__name__)

NAMESPACE = "AWS/SageMaker"
MAX_DATUMS_PER_CALL = 1000  # PutMetricData's limit per request
FLUSH_THRESHOLD = 200


def invocation_datums(
    endpoint: str,
    variant: str,
    status: int,
    model_latency_us: int,
    overhead_latency_us: int,
    green_config: str | None = None,
) -> list[dict[str, Any]]:
    """The datapoints one invocation produces (twice over for a green-fleet request); the
    buffer stamps their Timestamp."""
    values = [
        ("Invocations", 1.0, "Count"),
        ("Invocation4XXErrors", 1.0 if 400 <= status < 500 else 0.0, "Count"),
        ("Invocation5XXErrors", 1.0 if status >= 500 else 0.0, "Count"),
        ("ModelLatency", float(model_latency_us), "Microseconds"),
        ("OverheadLatency", float(overhead_latency_us), "Microseconds"),
    ]
    dimension_sets = [
        [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    ]
    if green_config:
        dimension_sets.append(
            [*dimension_sets[0], {"Name": "EndpointConfigName", "Value": green_config}]
        )
    return [
        {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit}
        for dims in dimension_sets
        for name, value, unit in values
    ]


class MetricsBuffer:
    """Collects datums; a daemon thread flushes them every `interval_s` (by default a quarter
    of the smallest alarm period at `time_scale`: cadence.py) or at FLUSH_THRESHOLD."""

    def __init__(
        self,
        put_metrics: Callable[[str, list[dict]], None] | None,
        time_scale: float = 1.0,
        interval_s: float | None = None,
    ) -> None:
        self._put = put_metrics
        self.interval_s = metrics_flush_interval(time_scale) if interval_s is None else interval_s
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: the thread and direct callers
        self._published_until: datetime | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if put_metrics is not None:
            self._thread = threading.Thread(target=self._run, name="hosting-metrics", daemon=True)
            self._thread.start()

    def add(self, datums: list[dict[str, Any]]) -> None:
        if self._put is None:
            return
        with self._lock:  # stamped under the lock: a flush's cut-off orders every datapoint
            now = datetime.now(UTC)
            self._pending.extend({**datum, "Timestamp": now} for datum in datums)
            full = len(self._pending) >= FLUSH_THRESHOLD
        if full:
            self._wake.set()

    def published_until(self) -> datetime | None:
        """Every datapoint made before this moment has been sent (None before the first
        flush)."""
        return self._published_until

    def flush(self) -> None:
        """Send everything pending now (also used by tests and shutdown)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
                cut_off = datetime.now(UTC)
            if self._put is not None:
                for start in range(0, len(batch), MAX_DATUMS_PER_CALL):
                    try:
                        self._put(NAMESPACE, batch[start : start + MAX_DATUMS_PER_CALL])
                    except Exception:  # metrics must never break inference
                        log.exception("put_metrics failed; %d datapoints dropped", len(batch))
            self._published_until = cut_off

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
