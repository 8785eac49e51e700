"""PutEvents from a client, as EventBridge answers it: an entry whose `source` starts with
`aws.` is refused with NotAuthorizedForSourceException ("You do not have permissions to publish
events with this source onto this event bus": API reference, PutEventsResultEntry), per entry,
the others are put. Only AWS services emit aws.* events; a client could otherwise forge an S3
upload or an alarm and start a workflow.

moto 5.2.5 puts any source. The check sits on moto's HTTP handler (EventsHandler.put_events),
which only clients reach: the twin's own AWS events (S3, SageMaker, CloudWatch) go to the
backend in-process (emit.py) and keep their path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from moto.events.responses import EventsHandler

from mlops.twin.seam import Patch, PatchSeam

AWS_SOURCE_PREFIX = "aws."
REFUSED = {
    "ErrorCode": "NotAuthorizedForSourceException",
    "ErrorMessage": "You do not have permissions to publish events with this source onto this "
    "event bus.",
}
MAX_ENTRIES = 10  # moto's backend validates the batch size; larger batches go to it unchanged


class ClientPutEventsSeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        original = EventsHandler.put_events

        @functools.wraps(original)
        def put_events(handler: EventsHandler) -> Any:
            entries = handler._get_param("Entries") or []
            if len(entries) > MAX_ENTRIES or not any(_aws_source(e) for e in entries):
                return original(handler)
            allowed = [e for e in entries if not _aws_source(e)]
            results = iter(handler.events_backend.put_events(allowed) if allowed else [])
            answered = [dict(REFUSED) if _aws_source(e) else next(results) for e in entries]
            failed = sum(1 for entry in answered if "ErrorCode" in entry)
            return json.dumps({"FailedEntryCount": failed, "Entries": answered})

        return [Patch(EventsHandler, "put_events", put_events)]


def _aws_source(entry: dict[str, Any]) -> bool:
    return str(entry.get("Source") or "").startswith(AWS_SOURCE_PREFIX)
