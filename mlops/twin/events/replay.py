"""EventBridge StartReplay as AWS documents it (EventBridge user guide, eb-replay-archived-event;
API reference, StartReplay, DescribeReplay, CancelReplay):

- asynchronous: StartReplay answers STARTING; the replay then runs (RUNNING), sending the
  archived events to the bus one by one and recording EventLastReplayedTime (the time of the
  last event replayed), and ends COMPLETED with ReplayEndTime;
- only archived events whose time lies in [EventStartTime, EventEndTime] are replayed, and with
  Destination.FilterArns only those rules receive them; each replayed event gets a new id and
  `replay-name`;
- CancelReplay works while the replay is STARTING or RUNNING: it answers CANCELLING and the
  replay stops before its next event, CANCELLED; any other state is IllegalStatusException.

moto 5.2.5 (moto/events/models.py) replays synchronously inside StartReplay, every archived
event to every rule of the bus whatever the window and filter, and its CancelReplay marks a
COMPLETED replay CANCELLED. `start_delay_s` (time spent STARTING) and `event_interval_s` (pause
between events) are real seconds, adjustable on the installed seam (tests slow a replay down
to cancel it mid-run).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.events import models as events_models
from moto.events.exceptions import IllegalStatusException
from moto.moto_api._internal import mock_random

from mlops.twin.aws.arns import Arn
from mlops.twin.aws.timestamps import epoch_seconds
from mlops.twin.seam import Patch, Seam

State = events_models.ReplayState
_LAST_REPLAYED = "_mlops_twin_event_last_replayed_time"


def _in_window(replay: Any, event: dict[str, Any]) -> bool:
    return (
        epoch_seconds(replay.event_start_time)
        <= epoch_seconds(event["time"])
        <= epoch_seconds(replay.event_end_time)
    )


class ReplaySeam(Seam):
    def __init__(self, start_delay_s: float = 0.05, event_interval_s: float = 0.0) -> None:
        self.start_delay_s, self.event_interval_s = start_delay_s, event_interval_s
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._patches: list[Patch] = []

    def install(self) -> None:
        if self._patches:
            return
        self._stopping.clear()
        describe = events_models.Replay.describe
        self._patches = [
            Patch(events_models.Replay, "replay_events", self._start),
            Patch(events_models.Replay, "describe", _with_last_replayed(describe)),
            Patch(events_models.EventsBackend, "cancel_replay", self._cancel),
        ]
        for patch in self._patches:
            patch.apply()

    def uninstall(self) -> None:
        """Stop every replay before its next event, wait for it, and give moto its code back."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=30)
        while self._patches:
            self._patches.pop().restore()

    # -- patched into moto --------------------------------------------------------------------
    @property
    def _start(self) -> Callable[[Any, Any], None]:
        seam = self

        def replay_events(replay: Any, archive: Any) -> None:
            """Called by moto's start_replay: run the replay in the background instead."""
            thread = threading.Thread(
                target=seam._run, args=(replay, archive), name=f"replay-{replay.name}", daemon=True
            )
            with seam._lock:
                seam._threads.add(thread)
            thread.start()

        return replay_events

    @property
    def _cancel(self) -> Callable[[Any, str], dict[str, str]]:
        seam = self

        def cancel_replay(backend: Any, name: str) -> dict[str, str]:
            replay = backend._get_replay(name)
            with seam._lock:
                if replay.state not in (State.STARTING, State.RUNNING):
                    raise IllegalStatusException(
                        f"Replay {name} is not in a valid state for this operation."
                    )
                replay.state = State.CANCELLING
            return {"ReplayArn": replay.arn, "State": State.CANCELLING.value}

        return cancel_replay

    # -- the replay ---------------------------------------------------------------------------
    def _run(self, replay: Any, archive: Any) -> None:
        try:
            if not self._pause(replay, self.start_delay_s) or not self._move(replay, State.RUNNING):
                return
            backend = events_models.events_backends[replay.account_id][replay.region]
            bus = backend.describe_event_bus(Arn.parse(replay.destination["Arn"]).resource_name)
            allowed = set(replay.destination.get("FilterArns") or [])
            rules = [r for r in bus.rules.values() if not allowed or r.arn in allowed]
            for event in [e for e in list(archive.events) if _in_window(replay, e)]:
                if not self._pause(replay, self.event_interval_s):
                    return
                replayed = dict(
                    event, **{"id": str(mock_random.uuid4()), "replay-name": replay.name}
                )
                for rule in rules:
                    rule.send_to_targets(replayed, transform_input=False)
                setattr(replay, _LAST_REPLAYED, epoch_seconds(event["time"]))
            self._move(replay, State.COMPLETED)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _pause(self, replay: Any, seconds: float) -> bool:
        """Wait `seconds`; False (and the replay CANCELLED) if it was cancelled meanwhile."""
        if seconds > 0:
            self._stopping.wait(seconds)
        with self._lock:
            if replay.state == State.CANCELLING or self._stopping.is_set():
                replay.state, replay.end_time = State.CANCELLED, events_models.unix_time()
                return False
        return True

    def _move(self, replay: Any, state: Any) -> bool:
        with self._lock:
            if replay.state == State.CANCELLING:
                replay.state, replay.end_time = State.CANCELLED, events_models.unix_time()
                return False
            replay.state = state
            if state == State.COMPLETED:
                replay.end_time = events_models.unix_time()
        return True


def _with_last_replayed(describe: Callable[[Any], dict[str, Any]]) -> Callable[..., Any]:
    @functools.wraps(describe)
    def describe_replay(replay: Any) -> dict[str, Any]:
        out = describe(replay)
        last = getattr(replay, _LAST_REPLAYED, None)
        if last is not None:
            out["EventLastReplayedTime"] = last
        return out

    return describe_replay
