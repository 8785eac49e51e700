"""A stack in the twin for the CLI's end-to-end tests, and `mlops` pointed at it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest


@dataclass
class Operated:
    """A stack in the twin, and `mlops` pointed at it."""

    twin: Any
    watcher: Any
    uploaded: tuple[Any, Any] | None = None  # a window that holds the first upload alone
    first_runs: tuple[Any, ...] = ()

    @property
    def target(self) -> list[str]:
        return [
            "--stack-name",
            self.twin.stack.name,
            "--endpoint-url",
            self.twin.cloud.url,
            "--region",
            self.twin.cloud.region,
        ]

    def dataset(self) -> bytes:
        return (self.twin.root / "ml" / "data" / "breast_cancer.csv").read_bytes()

    def settle(self, before: set[str], timeout: float = 240) -> list[Any]:
        """Waits until the executions started after `before`, and those their outcomes start a
        moment later (a registration, a rejection), have ended; returns them."""
        assert self.watcher.wait(
            lambda w: set(w.executions) - before != set() and not w.running(), timeout
        ), [(v.workflow, v.status) for v in self.watcher.executions.values()]
        time.sleep(1.5)
        assert self.watcher.wait(lambda w: not w.running(), timeout)
        return [v for arn, v in self.watcher.executions.items() if arn not in before]

    def upload(self, key: str, body: bytes) -> list[Any]:
        before = set(self.watcher.executions)
        self.twin.upload_dataset(key, body)
        return self.settle(before)


@contextmanager
def operated(**parameters: str) -> Iterator[Operated]:
    """A stack in the twin (template parameters over the twin's), the operator's credentials
    in the environment (the CLI reads the standard chain), and its first upload handled."""
    from mlops.control.timeline import Watcher
    from mlops.demo.loop import workflows
    from mlops.twin.stack import start_stack

    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
                env.delenv(name)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        twin = start_stack(**parameters)
        try:
            watcher = Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _l: None)
            stack = Operated(twin, watcher)
            started = datetime.now(UTC)
            stack.first_runs = tuple(stack.upload("first.csv", stack.dataset()))
            stack.uploaded = (started, datetime.now(UTC))
            yield stack
        finally:
            twin.close()
