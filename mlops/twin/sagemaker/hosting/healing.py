"""Serving heals itself: a dead model server is replaced from the same model, as SageMaker
replaces an instance that fails its health checks (developer guide, "How Your Container Should
Respond to Health Check (Ping) Requests"; endpoints keep their instance count).

The supervisor polls the processes of every fleet that serves traffic (and is woken at once
when a request finds its container gone). A dead one makes its variant unhealthy: requests
routed to it are refused with ServiceUnavailable. A replacement process starts from the same
staged model directory; once it answers /ping it takes the dead one's place and the variant is
healthy again. A replacement that cannot get healthy (its model no longer loads) is tried again
after a growing pause, as SageMaker keeps replacing the instance. Nothing is replaced after the
fleet stopped (a cutover, DeleteEndpoint, shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mlops.twin.sagemaker.hosting.fleet import Fleet
from mlops.twin.sagemaker.hosting.server_process import ModelServerProcess, ServerStartError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
RETRY_PAUSE_SECONDS = (1.0, 2.0, 5.0, 10.0)  # between replacements that did not get healthy


class Supervisor:
    """Watches `fleets()` (the fleets serving traffic) from start() until stop()."""

    def __init__(self, fleets: Callable[[], list[Fleet]], startup_timeout: float) -> None:
        self._fleets = fleets
        self._startup_timeout = startup_timeout
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._healing: dict[int, threading.Thread] = {}  # id() of the dead server
        self._thread: threading.Thread | None = None
        self.replacements: list[dict[str, object]] = []  # what was replaced, when, how long

    def start(self) -> None:
        if self._thread is None and not self._stopping.is_set():
            self._thread = threading.Thread(target=self._run, name="hosting-healing", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look now (a request just found a container gone)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop watching and wait for replacements under way (their fleets stop them)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            threads = list(self._healing.values())
        for thread in threads:
            thread.join(timeout=self._startup_timeout)

    def check(self) -> None:
        """One look at every fleet: start replacing each dead server not being replaced."""
        for fleet in self._fleets():
            if fleet.stopped.is_set():
                continue
            for server in fleet.all_servers():
                if server.running:
                    continue
                with self._lock:
                    if id(server) in self._healing or self._stopping.is_set():
                        continue
                    name = fleet.mark_unhealthy(server)
                    if name is None:
                        continue
                    thread = threading.Thread(
                        target=self._replace,
                        args=(fleet, name, server),
                        name=f"hosting-heal-{name}",
                        daemon=True,
                    )
                    self._healing[id(server)] = thread
                thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check()
            except Exception:  # one bad look must not end supervision
                log.exception("model server supervision failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _replace(self, fleet: Fleet, name: str, dead: ModelServerProcess) -> None:
        started = time.monotonic()
        try:
            for attempt in range(1_000_000):
                if fleet.stopped.is_set():
                    return
                server = dead.restart()
                try:
                    server.wait_healthy(self._startup_timeout, fleet.stopped)
                except ServerStartError as exc:
                    server.stop()
                    log.warning("replacing %s failed (%s); trying again", name, exc)
                    pause = RETRY_PAUSE_SECONDS[min(attempt, len(RETRY_PAUSE_SECONDS) - 1)]
                    if fleet.stopped.wait(pause):
                        return
                    continue
                if not fleet.replace(name, dead, server):
                    server.stop()
                    return
                self.replacements.append(
                    {"variant": name, "seconds": time.monotonic() - started, "attempts": attempt}
                )
                log.info("replaced the model server of %s (pid %s)", name, server.popen.pid)
                return
        finally:
            dead.stop()  # reap it
            with self._lock:
                self._healing.pop(id(dead), None)
