"""A build's log in CloudWatch Logs, where CodeBuild writes it by default: group
`/aws/codebuild/<project>` (or the project's logsConfig groupName), stream = the build id's
UUID (or `<streamName>/<uuid>`), lines prefixed `[Container] <time>` for CodeBuild's own
messages ("View build details", CloudWatch Logs link of a build)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_BATCH = 500


class BuildLog:
    """Lines are kept in order and sent to CloudWatch Logs in batches (`flush`)."""

    def __init__(self, logs_client: Callable[[], Any], group: str, stream: str) -> None:
        self._client_factory = logs_client
        self.group, self.stream = group, stream
        self.lines: list[str] = []
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._created = False

    def container(self, message: str) -> None:
        """A line of CodeBuild's own ('[Container] 2023/11/20 12:57:33.406982 Phase is ...')."""
        stamp = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")
        self.output(f"[Container] {stamp} {message}")

    def output(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line or " "})

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        client = self._client_factory()
        if not self._created:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=self.group)
            client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
            self._created = True
        for start in range(0, len(pending), _BATCH):
            client.put_log_events(
                logGroupName=self.group,
                logStreamName=self.stream,
                logEvents=pending[start : start + _BATCH],
            )
