"""InvokeEndpoint's data path: pick the server, time the call, copy to shadow variants."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from mlops.twin.sagemaker.hosting.capture import CaptureEvent, DataCaptureSpec
from mlops.twin.sagemaker.hosting.capture_writer import CaptureWriter
from mlops.twin.sagemaker.hosting.errors import RuntimeValidationError, no_healthy_instance
from mlops.twin.sagemaker.hosting.fleet import Fleet
from mlops.twin.sagemaker.hosting.metrics import MetricsBuffer, invocation_datums
from mlops.twin.sagemaker.hosting.routing import SeededRandom, ShadowStats, choose_variant
from mlops.twin.sagemaker.hosting.server_process import ContainerReply, ModelServerProcess
from mlops.twin.sagemaker.hosting.state import Endpoint


@dataclass(frozen=True)
class Route:
    variant_name: str
    server: ModelServerProcess
    green_config: str | None  # set when the green fleet serves (adds EndpointConfigName)
    shadows: dict[str, ModelServerProcess]
    capture: DataCaptureSpec | None  # the serving fleet's config decides what is captured
    fleet: Fleet


@dataclass(frozen=True)
class TimedReply:
    """A container reply plus the round-trip time the runtime measured around it.
    `reached` is False when no container was there to take the request (connection refused:
    the process is gone), as opposed to one that failed while answering."""

    reply: ContainerReply
    total_us: int
    reached: bool = True

    @property
    def overhead_us(self) -> int:
        return max(0, self.total_us - self.reply.model_latency_us)


def route(endpoint: Endpoint, rng: SeededRandom, target_variant: str | None) -> Route:
    """Choose fleet by the green share, then variant by weight (or TargetVariant); refuse the
    request (ServiceUnavailable) if the chosen variant has no healthy instance."""
    green, blue = endpoint.green, endpoint.blue
    assert blue is not None
    use_green = green is not None and rng.random() < endpoint.green_share
    fleet: Fleet = green if use_green and green is not None else blue
    if target_variant:
        if fleet.variant(target_variant) is None:
            fleet = blue if fleet is green else (green or blue)
        variant = fleet.variant(target_variant)
        if variant is None:
            raise RuntimeValidationError(
                f"The variant {target_variant} is not present in endpoint {endpoint.name}."
            )
    else:
        variant = choose_variant(fleet.variants, rng)
    server = fleet.healthy_server(variant.name)
    if server is None:
        raise no_healthy_instance(endpoint.name, variant.name)
    return Route(
        variant.name,
        server,
        fleet.config.name if fleet is green else None,
        fleet.shadows(),
        fleet.config.data_capture,
        fleet,
    )


def call_server(
    server: ModelServerProcess, body: bytes, content_type: str, accept: str | None
) -> TimedReply:
    started = time.perf_counter()
    reached = True
    try:
        reply = server.invoke(body, content_type, accept)
    except OSError as exc:  # the container is gone or hung: the runtime reports a 5xx
        reached = not isinstance(exc, ConnectionRefusedError)
        message = f"The model container is unreachable: {exc}".encode()
        reply = ContainerReply(500, message, "text/plain", 0)
    return TimedReply(reply, int((time.perf_counter() - started) * 1_000_000), reached)


class ShadowRunner:
    """Sends copies to shadow variants in the background; never returns their answers.

    A copy of a captured request is recorded under the shadow variant's name with the
    production record's eventId (see capture.py), so the two answers pair up.
    """

    def __init__(self, metrics: MetricsBuffer, capture: CaptureWriter) -> None:
        self._metrics = metrics
        self._capture = capture
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shadow")
        self._lock = threading.Lock()
        self._futures: set[Future] = set()
        self._stats: dict[str, dict[str, ShadowStats]] = {}

    def submit(
        self,
        endpoint: str,
        shadows: dict[str, ModelServerProcess],
        body: bytes,
        content_type: str,
        accept: str | None,
        production: TimedReply,
        capture: CaptureEvent | None = None,
    ) -> None:
        for variant, server in shadows.items():
            future = self._pool.submit(
                self._run,
                endpoint,
                variant,
                server,
                body,
                content_type,
                accept,
                production,
                capture,
            )
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(self._forget)

    def _run(
        self,
        endpoint: str,
        variant: str,
        server: ModelServerProcess,
        body: bytes,
        content_type: str,
        accept: str | None,
        production: TimedReply,
        capture: CaptureEvent | None,
    ) -> None:
        timed = call_server(server, body, content_type, accept)
        reply, prod = timed.reply, production.reply
        if capture is not None and reply.status < 400:
            self._capture.record(
                capture, variant, body, content_type, reply.body, reply.content_type
            )
        self._metrics.add(
            invocation_datums(
                endpoint, variant, reply.status, reply.model_latency_us, timed.overhead_us
            )
        )
        with self._lock:
            stats = self._stats.setdefault(endpoint, {}).setdefault(variant, ShadowStats())
            stats.record(
                reply.status < 400,
                timed.total_us,
                production.total_us,
                prod.status < 400,
                reply.body == prod.body,
            )

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def stats(self, endpoint: str) -> dict[str, dict]:
        with self._lock:
            return {v: s.as_dict() for v, s in self._stats.get(endpoint, {}).items()}

    def forget_endpoint(self, endpoint: str) -> None:
        with self._lock:
            self._stats.pop(endpoint, None)

    def drain(self, timeout: float) -> None:
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.exception(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
