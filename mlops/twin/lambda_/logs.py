"""The lines the Lambda service writes around a function's own log (REPORT, with its fields and
fault status), and the tail Invoke returns with LogType=Tail."""

from __future__ import annotations

import math

from mlops.twin.lambda_.function import FunctionSpec
from mlops.twin.lambda_.process import Outcome

LOG_TAIL_BYTES = 4096  # Invoke's X-Amz-Log-Result: "the last 4 KB of the execution log"


def report_line(
    request_id: str, spec: FunctionSpec, outcome: Outcome, init_ms: float | None, error: dict | None
) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {outcome.duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(outcome.duration_ms)} ms",
        f"Memory Size: {spec.memory_mb} MB",
        f"Max Memory Used: {math.ceil(outcome.max_memory_mb)} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if outcome.timed_out:
        parts.append("Status: timeout")
    elif error is not None and "stackTrace" not in error:
        parts += ["Status: error", f"Error Type: {error['errorType']}"]
    return "\t".join(parts)


def log_tail(lines: list[str]) -> str:
    data = ("\n".join(lines) + "\n").encode()
    return data[-LOG_TAIL_BYTES:].decode("utf-8", "ignore")
