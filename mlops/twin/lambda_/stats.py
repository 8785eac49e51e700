"""What the runtime measured per function (bench/loop.py reads it): cold starts and warm
invocations, their wall times, init durations, errors."""

from __future__ import annotations

import copy
import threading


def _new_stats() -> dict:
    return {
        "cold_starts": 0,
        "warm_invocations": 0,
        "errors": 0,
        "cold_ms": [],
        "warm_ms": [],
        "init_ms": [],
    }


class RuntimeStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, dict] = {}

    def register(self, name: str) -> None:
        with self._lock:
            self._stats.setdefault(name, _new_stats())

    def record(
        self, name: str, cold: bool, total_ms: float, init_ms: float | None, failed: bool
    ) -> None:
        with self._lock:
            stats = self._stats.setdefault(name, _new_stats())
            stats["cold_starts" if cold else "warm_invocations"] += 1
            stats["cold_ms" if cold else "warm_ms"].append(total_ms)
            if init_ms is not None:
                stats["init_ms"].append(init_ms)
            stats["errors"] += failed

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._stats)
