"""A fleet: the servers of one endpoint config (one process per production/shadow variant).

Instance counts are bookkeeping only: one process stands for a variant's whole instance
pool, which keeps the twin cheap while routing, weights and blue/green stay faithful. A variant
whose process died is unhealthy until healing.py has replaced it: `healthy_server` then
answers None and the runtime refuses the request as SageMaker does without a healthy instance.
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
    servers: dict[str, ModelServerProcess] = field(default_factory=dict)
    shadow_servers: dict[str, ModelServerProcess] = field(default_factory=dict)
    unhealthy: set[str] = field(default_factory=set)  # variant names (production or shadow)
    stopped: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def variants(self) -> list[VariantSpec]:
        return self.config.variants

    def variant(self, name: str) -> VariantSpec | None:
        return next((v for v in self.config.variants if v.name == name), None)

    def all_servers(self) -> list[ModelServerProcess]:
        with self._lock:
            return [*self.servers.values(), *self.shadow_servers.values()]

    def healthy_server(self, name: str) -> ModelServerProcess | None:
        """The server of variant `name` (production or shadow), None while it is unhealthy."""
        with self._lock:
            if name in self.unhealthy:
                return None
            return self.servers.get(name) or self.shadow_servers.get(name)

    def shadows(self) -> dict[str, ModelServerProcess]:
        """Every shadow variant's server, healthy or not: a copy sent to a dead one fails and
        counts as the shadow's error, so a shadow test never looks better than it went."""
        with self._lock:
            return dict(self.shadow_servers)

    def mark_unhealthy(self, server: ModelServerProcess) -> str | None:
        """Mark the variant `server` serves unhealthy; its name, or None if it is not ours."""
        with self._lock:
            for pool in (self.servers, self.shadow_servers):
                for name, current in pool.items():
                    if current is server:
                        self.unhealthy.add(name)
                        return name
        return None

    def replace(self, name: str, dead: ModelServerProcess, new: ModelServerProcess) -> bool:
        """Put `new` in place of `dead` and mark the variant healthy; False (nothing changed)
        if the fleet stopped or `dead` is no longer the variant's server."""
        with self._lock:
            pool = self.servers if name in self.servers else self.shadow_servers
            if self.stopped.is_set() or pool.get(name) is not dead:
                return False
            pool[name] = new
            self.unhealthy.discard(name)
            return True

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


def _start_one(
    variant: VariantSpec,
    kind: str,
    config_name: str,
    instance_dir: Path,
    launch: Launch,
    on_started: Callable[[ModelServerProcess], None],
) -> ModelServerProcess:
    url = variant.container.get("ModelDataUrl", "")
    try:
        staged = stage_model(variant.container, instance_dir, launch.s3_client_factory)
    except StagingError as exc:
        raise FleetStartError(
            f'Failed to download model data for container "primary" from URL: "{url}". '
            f"Please ensure that there is an object located at the URL and that the role "
            f"passed to CreateModel has permissions to download the model. (twin: {exc})"
        ) from exc
    server = ModelServerProcess.start(
        staged, variant.name, config_name, instance_dir, _container_env(launch.base_env, variant)
    )
    on_started(server)  # registered before waiting, so a failed fleet still stops it
    try:
        server.wait_healthy(launch.startup_timeout, launch.cancel)
    except ServerStartError as exc:
        raise FleetStartError(
            f"The primary container for {kind} variant {variant.name} did not pass the ping "
            f"health check. Please check CloudWatch logs for this endpoint. (twin: {exc})"
        ) from exc
    return server


def start_fleet(
    config: EndpointConfigSpec, generation: int, endpoint_dir: Path, launch: Launch
) -> Fleet:
    """Stage and start every variant in parallel; on any failure stop them all and raise."""
    fleet = Fleet(config, generation)
    jobs = [(v, "production", fleet.servers) for v in config.variants]
    jobs += [(v, "shadow", fleet.shadow_servers) for v in config.shadow_variants]
    started: list[ModelServerProcess] = []
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [
            pool.submit(
                _start_one,
                variant,
                kind,
                config.name,
                endpoint_dir / f"{variant.name}-{generation}",
                launch,
                started.append,
            )
            for variant, kind, _ in jobs
        ]
        errors: list[str] = []
        for (variant, _, target), future in zip(jobs, futures, strict=True):
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
