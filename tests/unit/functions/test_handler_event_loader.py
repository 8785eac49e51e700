"""The shared `load_event` fixture reads the samples in events/ (also used by sam local invoke)."""

import json
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).resolve().parents[3] / "events"
SAMPLES = sorted(p.relative_to(EVENTS_DIR).as_posix() for p in EVENTS_DIR.rglob("*.json"))


@pytest.mark.parametrize("relative", SAMPLES)
def test_load_event_returns_the_sample_by_name_with_or_without_suffix(
    load_event: Any, relative: str
) -> None:
    expected = json.loads((EVENTS_DIR / relative).read_text(encoding="utf-8"))
    assert load_event(relative) == expected
    assert load_event(relative.removesuffix(".json")) == expected


def test_load_event_of_an_unknown_name_fails_loudly(load_event: Any) -> None:
    with pytest.raises(FileNotFoundError):
        load_event("no/such/event")
