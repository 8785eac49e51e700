"""A fleet: the servers of one endpoint config — one model-server process per instance of a
production variant (InitialInstanceCount, or the count an update retained or autoscaling set),
one process per shadow variant.

Requests to a variant go round robin over its healthy instances. An instance whose process
died is unhealthy until healing.py has replaced it; a variant with no healthy instance makes
`healthy_server` answer None and the runtime refuse the request as SageMaker does. Every
instance of a variant serves the model staged once for the variant; `grow` starts more of them
(autoscaling) and `shrink` stops the newest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.twin.sagemaker.hosting.artifacts import StagingError, stage_model
from mlops.twin.sagemaker.hosting.moto_store import EndpointConfigSpec, VariantSpec
from mlops.twin.sagemaker.hosting.server_process import ModelServerProcess, ServerStartError

log = logging.getLogger(__name__)


class FleetStartError(Exception):
    """The fleet could not become healthy; the message is the endpoint's FailureReason."""


@dataclass
class Fleet:
    config: EndpointConfigSpec
    generation: int
    servers: dict[str, list[ModelServerProcess]] = field(default_factory=dict)  # per instance
    shadow_servers: dict[str, list[ModelServerProcess]] = field(default_factory=dict)
    unhealthy: set[int] = field(default_factory=set)  # id() of dead instances' servers
    stopped: threading.Event = field(default_factory=threading.Event)
    _turns: dict[str, int] = field(default_factory=dict, repr=False)
    _started: int = field(default=0, repr=False)  # instances ever started: directory names
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def variants(self) -> list[VariantSpec]:
        return self.config.variants

    def variant(self, name: str) -> VariantSpec | None:
        return next((v for v in self.config.variants if v.name == name), None)

    def all_servers(self) -> list[ModelServerProcess]:
        with self._lock:
            pools = [*self.servers.values(), *self.shadow_servers.values()]
            return [server for pool in pools for server in pool]

    def instances(self, name: str) -> list[ModelServerProcess]:
        """The servers of variant `name` (production or shadow), healthy or not."""
        with self._lock:
            return list(self.servers.get(name) or self.shadow_servers.get(name) or [])

    def _next(self, name: str, pool: list[ModelServerProcess]) -> ModelServerProcess:
        turn = self._turns.get(name, 0)
        self._turns[name] = turn + 1
        return pool[turn % len(pool)]

    def healthy_server(self, name: str) -> ModelServerProcess | None:
        """The next healthy instance of variant `name` (round robin), None if it has none."""
        with self._lock:
            pool = self.servers.get(name) or self.shadow_servers.get(name) or []
            healthy = [s for s in pool if id(s) not in self.unhealthy]
            return self._next(name, healthy) if healthy else None

    def shadows(self) -> dict[str, ModelServerProcess]:
        """An instance of every shadow variant, healthy or not: a copy sent to a dead one fails
        and counts as the shadow's error, so a shadow test never looks better than it went."""
        with self._lock:
            return {name: self._next(name, pool) for name, pool in self.shadow_servers.items()}

    def mark_unhealthy(self, server: ModelServerProcess) -> str | None:
        """Mark the instance `server` unhealthy; its variant's name, or None if not ours."""
        with self._lock:
            for pools in (self.servers, self.shadow_servers):
                for name, pool in pools.items():
                    if any(current is server for current in pool):
                        self.unhealthy.add(id(server))
                        return name
        return None

    def replace(self, name: str, dead: ModelServerProcess, new: ModelServerProcess) -> bool:
        """Put `new` in place of `dead` (healthy again); False (nothing changed) if the fleet
        stopped or `dead` is no longer an instance of the variant (scaled in meanwhile)."""
        with self._lock:
            pool = self.servers.get(name) or self.shadow_servers.get(name) or []
            at = next((i for i, s in enumerate(pool) if s is dead), None)
            if self.stopped.is_set() or at is None:
                return False
            pool[at] = new
            self.unhealthy.discard(id(dead))
            return True

    def instance_dir(self, variant_dir: Path) -> Path:
        """A fresh directory for one more instance (its log and working directory)."""
        with self._lock:
            self._started += 1
            number = self._started
        path = variant_dir / f"instance-{number}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def grow(self, name: str, count: int, timeout: float, cancel: threading.Event | None) -> int:
        """Start instances of production variant `name` until it has `count`, each from the
        model its first instance serves; return how many it has (fewer if one could not get
        healthy, or the fleet stopped)."""
        while len(self.instances(name)) < count and not self.stopped.is_set():
            first = self.instances(name)[0]
            server = first.restart(self.instance_dir(first.log_path.parent))
            try:
                server.wait_healthy(timeout, cancel)
            except ServerStartError as exc:
                server.stop()
                log.warning("a new instance of %s did not get healthy: %s", name, exc)
                break
            with self._lock:
                if self.stopped.is_set():
                    server.stop()
                    break
                self.servers[name].append(server)
        return len(self.instances(name))

    def shrink(self, name: str, count: int) -> int:
        """Stop the newest instances of production variant `name` until it has `count` (at
        least one); return how many it has."""
        stopping = []
        with self._lock:
            pool = self.servers[name]
            while len(pool) > max(1, count):
                stopping.append(pool.pop())
            left = len(pool)
        for server in stopping:
            server.stop()
        return left

    def stop(self) -> None:
        """Stop every server, and any replacement still starting (it watches `stopped`)."""
        self.stopped.set()
        for server in self.all_servers():
            server.stop()


def _container_env(base_env: dict[str, str], variant: VariantSpec) -> dict[str, str]:
    env = dict(base_env)
    env.update({k: str(v) for k, v in (variant.container.get("Environment") or {}).items()})
    return env


@dataclass(frozen=True)
class Launch:
    """How every server of an endpoint starts: where its artefacts come from, the environment
    it starts with, how long it may take to pass /ping, and the endpoint's cancel signal."""

    s3_client_factory: Callable[[], Any]
    base_env: dict[str, str]
    startup_timeout: float
    cancel: threading.Event | None = None


def _start_variant(
    variant: VariantSpec,
    kind: str,
    count: int,
    config_name: str,
    variant_dir: Path,
    launch: Launch,
    fleet: Fleet,
    on_started: Callable[[ModelServerProcess], None],
) -> list[ModelServerProcess]:
    """Stage the variant's model once, then start `count` instances of it."""
    url = variant.container.get("ModelDataUrl", "")
    try:
        staged = stage_model(variant.container, variant_dir, launch.s3_client_factory)
    except StagingError as exc:
        raise FleetStartError(
            f'Failed to download model data for container "primary" from URL: "{url}". '
            f"Please ensure that there is an object located at the URL and that the role "
            f"passed to CreateModel has permissions to download the model. (twin: {exc})"
        ) from exc
    first = ModelServerProcess.start(
        staged, variant.name, config_name, variant_dir, _container_env(launch.base_env, variant)
    )
    servers = [first]
    on_started(first)  # registered before waiting, so a failed fleet still stops it
    for _ in range(1, count):
        servers.append(first.restart(fleet.instance_dir(variant_dir)))
        on_started(servers[-1])
    try:
        for server in servers:
            server.wait_healthy(launch.startup_timeout, launch.cancel)
    except ServerStartError as exc:
        raise FleetStartError(
            f"The primary container for {kind} variant {variant.name} did not pass the ping "
            f"health check. Please check CloudWatch logs for this endpoint. (twin: {exc})"
        ) from exc
    return servers


def start_fleet(
    config: EndpointConfigSpec, generation: int, endpoint_dir: Path, launch: Launch
) -> Fleet:
    """Stage and start every variant in parallel (a production variant with one process per
    instance); on any failure stop them all and raise."""
    fleet = Fleet(config, generation)
    jobs = [(v, "production", max(1, v.current_instance_count), fleet.servers)
            for v in config.variants]  # fmt: skip
    jobs += [(v, "shadow", 1, fleet.shadow_servers) for v in config.shadow_variants]
    started: list[ModelServerProcess] = []
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [
            pool.submit(
                _start_variant,
                variant,
                kind,
                count,
                config.name,
                endpoint_dir / f"{variant.name}-{generation}",
                launch,
                fleet,
                started.append,
            )
            for variant, kind, count, _ in jobs
        ]
        errors: list[str] = []
        for (variant, _, _, target), future in zip(jobs, futures, strict=True):
            try:
                target[variant.name] = future.result()
            except FleetStartError as exc:
                errors.append(str(exc))
            except Exception as exc:  # unexpected (e.g. OSError spawning): still a Failed fleet
                log.exception("starting variant %s failed", variant.name)
                errors.append(f"Failed to start variant {variant.name}: {exc}")
    if errors:
        for server in started:
            server.stop()
        raise FleetStartError(errors[0])
    return fleet
