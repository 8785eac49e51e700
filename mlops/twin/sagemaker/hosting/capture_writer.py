"""Buffers data-capture records in memory and uploads them to S3 as JSON-lines files.

AWS delivers captured data in files ("Expect to see different files from different time
periods, organized based on the hour when the invocation occurred"), not one object per
request, and delivery lags the invocation. The twin does the same on a short timer: every
FLUSH_INTERVAL_SECONDS, on `flush()` (endpoint deletion, Hosting.quiesce) and at `close()`.
Capturing must never break or slow an invocation: `record` only formats and appends, and an
upload that fails is logged and its records dropped (a retry loop could grow without bound).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops.twin.aws.s3_uri import split_s3_location
from mlops.twin.sagemaker.hosting.capture import (
    CaptureEvent,
    capture_file_key,
    capture_record,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class _FileGroup:
    """Records that go to the same file: one destination, endpoint, variant and hour."""

    destination: str
    endpoint: str
    variant: str
    hour: str
    kms_key_id: str | None


@dataclass
class _Batch:
    first: datetime
    lines: list[bytes] = field(default_factory=list)


class CaptureWriter:
    def __init__(self, s3_client_factory: Callable[[], Any]) -> None:
        self._s3_client_factory = s3_client_factory
        self._client: Any = None
        self._lock = threading.Lock()  # guards _pending and the thread's start
        self._upload_lock = threading.Lock()  # one upload round at a time
        self._pending: dict[_FileGroup, _Batch] = {}
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        event: CaptureEvent,
        variant: str,
        request_body: bytes,
        request_content_type: str,
        reply_body: bytes,
        reply_content_type: str,
    ) -> None:
        """Buffer the record of one variant's successful answer; never raises."""
        try:
            now = datetime.now(UTC)
            line = json.dumps(
                capture_record(
                    event,
                    request_body,
                    request_content_type,
                    reply_body,
                    reply_content_type,
                    now,
                ),
                separators=(",", ":"),
            ).encode()
            group = _FileGroup(
                event.spec.destination_s3_uri,
                event.endpoint,
                variant,
                f"{now:%Y%m%d%H}",
                event.spec.kms_key_id,
            )
            with self._lock:
                self._pending.setdefault(group, _Batch(now)).lines.append(line)
                self._start_thread()
        except Exception:  # capture is best effort; the caller is serving a request
            log.exception("data capture of %s/%s failed", event.endpoint, variant)

    def _start_thread(self) -> None:
        if self._thread is None and not self._closed.is_set():
            self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(FLUSH_INTERVAL_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Upload everything buffered now, one object per (endpoint, variant, hour)."""
        with self._upload_lock:
            with self._lock:
                batches, self._pending = self._pending, {}
            for group, batch in batches.items():
                self._upload(group, batch)

    def _upload(self, group: _FileGroup, batch: _Batch) -> None:
        # DestinationS3Uri: s3:// or https://, per its documented pattern
        bucket, prefix = split_s3_location(group.destination)
        key = capture_file_key(prefix, group.endpoint, group.variant, batch.first)
        extra: dict[str, str] = {}
        if group.kms_key_id:  # DataCaptureConfig.KmsKeyId: SSE-KMS of the captured data
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": group.kms_key_id}
        try:
            if self._client is None:
                self._client = self._s3_client_factory()
            self._client.put_object(
                Bucket=bucket, Key=key, Body=b"\n".join(batch.lines) + b"\n", **extra
            )
        except Exception:
            log.exception(
                "data capture upload to s3://%s/%s failed; %d records dropped",
                bucket,
                key,
                len(batch.lines),
            )

    def close(self) -> None:
        """Stop the timer and upload what is left (shutdown)."""
        self._closed.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
        self.flush()
