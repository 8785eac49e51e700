"""Timestamps as each AWS API renders them. Every function takes UTC; a naive datetime is UTC
(moto stores naive UTC datetimes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def epoch_seconds(value: datetime | str | float) -> float:
    """A datetime, an ISO 8601 text ("...Z" or with an offset) or epoch seconds."""
    if isinstance(value, datetime):
        return as_utc(value).timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def iso_seconds(moment: datetime | float) -> str:
    """ "2024-05-01T12:00:00Z": EventBridge event `time`, SageMaker data capture."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{naive_utc(moment):%Y-%m-%dT%H:%M:%S}Z"


def iso_millis(moment: datetime | None = None) -> str:
    """ "2013-08-23T01:02:15.422Z": Step Functions aws-sdk results, Lambda log lines."""
    utc = naive_utc(moment or utcnow())
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def cloudwatch_time(moment: datetime) -> str:
    """ "2019-10-02T17:04:40.989+0000": CloudWatch alarm reasons and state-change events."""
    utc = naive_utc(moment)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def epoch_millis(moment: datetime) -> int:
    """1654683838000: dates in the results of Step Functions' optimized integrations."""
    return int(moment.timestamp() * 1000)


def render_datetimes(value: Any, render: Callable[[datetime], Any]) -> Any:
    """`value` with every datetime inside (dicts and lists, recursively) rendered."""
    if isinstance(value, datetime):
        return render(value)
    if isinstance(value, dict):
        return {key: render_datetimes(item, render) for key, item in value.items()}
    if isinstance(value, list):
        return [render_datetimes(item, render) for item in value]
    return value
