"""What the Lambda service reports about an invocation: the error document of a failed one
(the handler's own, or a fault the service detects: timeout, a runtime that exited, memory),
the lines it writes around the function's own log (REPORT, with its fields and fault status),
and the tail Invoke returns with LogType=Tail."""

from __future__ import annotations

import math

from mlops.twin.lambda_.function import FunctionSpec
from mlops.twin.lambda_.process import Outcome
from mlops.twin.lambda_.worker import error_document, fault_document

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


def error_of(
    outcome: Outcome, spec: FunctionSpec, request_id: str, enforce_memory: bool = True
) -> dict | None:
    """The invocation's error document, or None if it succeeded. A worker that used more than
    its memory size is marked unhealthy (Lambda kills such a runtime)."""
    if outcome.timed_out:
        detail = f"Task timed out after {spec.timeout_s:.2f} seconds"
        return fault_document(request_id, detail, "Sandbox.Timedout")
    if outcome.exit_status is not None:
        detail = f"Runtime exited with error: {outcome.exit_status}"
        return fault_document(request_id, detail, "Runtime.ExitError")
    if outcome.error is not None:
        return outcome.error
    if outcome.result is None:  # defensive: a reply without result or error
        return error_document("Invalid worker reply", "Runtime.Unknown", request_id)
    if enforce_memory and outcome.max_memory_mb > spec.memory_mb:
        outcome.healthy = False
        detail = "Runtime exited with error: signal: killed"
        return fault_document(request_id, detail, "Runtime.OutOfMemory")
    return None
