"""A function as the runtime runs it, and what one invocation returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    layer_dirs: tuple[Path, ...] = ()
    dead_letter_arn: str | None = None  # DeadLetterConfig.TargetArn (asynchronous.py)


@dataclass
class InvocationResult:
    status_code: int
    payload: bytes
    function_error: str | None
    log_tail: str
    duration_ms: float
    init_duration_ms: float | None
    request_id: str


class InvalidRequestContent(ValueError):
    """The payload is not JSON (Lambda: InvalidRequestContentException)."""
