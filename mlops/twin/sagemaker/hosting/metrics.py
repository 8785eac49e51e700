"""Endpoint invocation metrics in the AWS/SageMaker namespace, batched to put_metrics.

As AWS publishes them (SageMaker developer guide, "Monitor with CloudWatch"): per variant
with dimensions EndpointName + VariantName — Invocations, Invocation4XXErrors,
Invocation5XXErrors (0/1 per request, so Average = error rate), ModelLatency and
OverheadLatency in microseconds. During a blue/green deployment the new fleet's datapoints
are also published with EndpointConfigName=<new config> (deployment-guardrails
configuration guide), so alarms can watch the green fleet alone. AWS has no synthetic
endpoint-wide aggregate: "AllTraffic" is the variant name the SageMaker SDK gives a
single-variant endpoint, so alarms on VariantName=AllTraffic need a variant of that name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "AWS/SageMaker"
MAX_DATUMS_PER_CALL = 1000  # PutMetricData's limit per request
FLUSH_INTERVAL_SECONDS = 0.25  # inside the stack's 30 s alarm period at TIME_SCALE 1/100 (0.3 s)
FLUSH_THRESHOLD = 200


def invocation_datums(
    endpoint: str,
    variant: str,
    status: int,
    model_latency_us: int,
    overhead_latency_us: int,
    green_config: str | None = None,
) -> list[dict[str, Any]]:
    """The datapoints one invocation produces (twice over for a green-fleet request)."""
    now = datetime.now(UTC)
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
        {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit, "Timestamp": now}
        for dims in dimension_sets
        for name, value, unit in values
    ]


class MetricsBuffer:
    """Collects datums; a daemon thread flushes every second or at FLUSH_THRESHOLD."""

    def __init__(self, put_metrics: Callable[[str, list[dict]], None] | None) -> None:
        self._put = put_metrics
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if put_metrics is not None:
            self._thread = threading.Thread(target=self._run, name="hosting-metrics", daemon=True)
            self._thread.start()

    def add(self, datums: list[dict[str, Any]]) -> None:
        if self._put is None:
            return
        with self._lock:
            self._pending.extend(datums)
            full = len(self._pending) >= FLUSH_THRESHOLD
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Send everything pending now (also used by tests and shutdown)."""
        with self._lock:
            batch, self._pending = self._pending, []
        if self._put is None:
            return
        for start in range(0, len(batch), MAX_DATUMS_PER_CALL):
            try:
                self._put(NAMESPACE, batch[start : start + MAX_DATUMS_PER_CALL])
            except Exception:  # metrics must never break inference
                log.exception("put_metrics failed; %d datapoints dropped", len(batch))

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(FLUSH_INTERVAL_SECONDS)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
