"""Injected crashes for crash tests: which invocations of which function carry which armed AWS
operations (the worker kills itself after them: worker.py), and how many crashes are left.

A fault armed `times` times is handed to at most that many invocations at once; it is used up
only by an invocation that actually crashed on it, so an invocation that never made the call
leaves it armed for the next one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    function: str
    operation: str  # "service.Operation": botocore client name and operation name
    remaining: int
    in_flight: int = 0
    crashed: list[str] = field(default_factory=list)  # request ids of the crashed invocations


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, function: str, operation: str, times: int) -> Fault:
        service, _, name = operation.partition(".")
        if not service or not name or times < 1:
            raise ValueError(f"expected 'service.Operation' and times >= 1, got {operation!r}")
        fault = Fault(function, operation, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def claim(self, function: str) -> list[Fault]:
        """The faults this invocation of `function` carries (each marked in flight)."""
        with self._lock:
            armed = [
                f for f in self._faults if f.function == function and f.remaining - f.in_flight > 0
            ]
            for fault in armed:
                fault.in_flight += 1
        return armed

    def settle(self, armed: list[Fault], crashed_after: str | None, request_id: str) -> None:
        """The invocation ended: it used up one crash of the fault it died on, if any."""
        with self._lock:
            for fault in armed:
                fault.in_flight -= 1
            dead = next((f for f in armed if f.operation == crashed_after), None)
            if dead is not None:
                dead.remaining -= 1
                dead.crashed.append(request_id)
                if dead.remaining == 0:
                    self._faults.remove(dead)
