"""S3 -> EventBridge as AWS documents it (S3 user guide, "Using EventBridge" and
ev-events.html): events go to the account's default bus only, each with a fresh id, an ISO
time and `etag`.

moto 5.2.5 (moto/s3/notifications.py `_send_event_bridge_message`) hands the event to every
rule on every bus (so a rule on a custom bus would fire without an ingress rule), always with
the same event id, a numeric `time` and an `eTag` field.

The sequencer: AWS says a greater sequencer is a later event of the same key ("Event message
structure", S3 user guide); the twin's grow with every event of the process (18 hex digits, as
AWS's samples have), which holds that and orders events of different keys too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from typing import Any

from moto.s3 import notifications

from mlops.twin.aws.arns import arn
from mlops.twin.events.emit import put_aws_event
from mlops.twin.seam import Patch, PatchSeam

# S3 API call that created the object, as the `reason` field names it.
_REASONS = {
    "Put": "PutObject",
    "Post": "POST Object",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}


class S3EventsSeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        return [Patch(notifications, "_send_event_bridge_message", _send_event_bridge_message)]


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    detail = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": {
            "key": key.name,
            "size": key.size,
            "etag": key.etag.replace('"', ""),
            "version-id": key.version_id,
            # AWS: a hex string that only orders events of the same key.
            "sequencer": _next_sequencer(),
        },
        "request-id": secrets.token_hex(8).upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _REASONS.get(event_name.rsplit(":", 1)[-1], event_name.rsplit(":", 1)[-1]),
    }
    put_aws_event(
        account_id,
        bucket.region_name,
        "aws.s3",
        notifications._detail_type(event_name),
        detail,
        [arn("s3", "", "", bucket.name)],
    )


_sequence_lock = threading.Lock()
_last = 0


def _next_sequencer() -> str:
    """Strictly increasing within the process: the clock in nanoseconds, or one more."""
    global _last
    with _sequence_lock:
        _last = max(_last + 1, time.time_ns())
        return f"{_last:018X}"
