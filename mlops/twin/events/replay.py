"""EventBridge StartReplay as AWS documents it (EventBridge user guide, eb-replay-archived-event):
only archived events whose time lies in [EventStartTime, EventEndTime] are replayed, and with
Destination.FilterArns only those rules receive them.

moto 5.2.5 (moto/events/models.py `Replay.replay_events`) replays every archived event to every
rule of the bus, whatever the window and filter — so a replay of one upload re-drove every
workflow. Events still carry a new id and `replay-name`, as on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moto.events import models as events_models
from moto.moto_api._internal import mock_random

from mlops.twin.aws.arns import Arn
from mlops.twin.aws.timestamps import epoch_seconds
from mlops.twin.seam import Patch, PatchSeam


class ReplaySeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        return [Patch(events_models.Replay, "replay_events", _replay_events)]


def _in_window(replay: Any, event: dict[str, Any]) -> bool:
    return (
        epoch_seconds(replay.event_start_time)
        <= epoch_seconds(event["time"])
        <= epoch_seconds(replay.event_end_time)
    )


def _replay_events(self: Any, archive: Any) -> None:
    backend = events_models.events_backends[self.account_id][self.region]
    bus = backend.describe_event_bus(Arn.parse(self.destination["Arn"]).resource_name)
    allowed = set(self.destination.get("FilterArns") or [])
    rules = [r for r in bus.rules.values() if not allowed or r.arn in allowed]
    for event in archive.events:
        if not _in_window(self, event):
            continue
        replayed = dict(event, **{"id": str(mock_random.uuid4()), "replay-name": self.name})
        for rule in rules:
            rule.send_to_targets(replayed, transform_input=False)
    self.state = events_models.ReplayState.COMPLETED
    self.end_time = events_models.unix_time()
