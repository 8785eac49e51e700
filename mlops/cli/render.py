"""How `mlops` prints: aligned tables, durations, relative times, a live progress line for
anything that waits, and JSON for scripts."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

_SPAN = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Columns as wide as their widest cell; the columns in `right` aligned right. A row with
    fewer cells than headers lets its last cell run on (a note across the rest of the row)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [
        max((len(row[i]) for row in cells if i < len(row) - (len(row) < len(headers))), default=0)
        for i in range(len(headers))
    ]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """850ms, 12.3s, 4m05s, 2h03m, 3d04h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'12s ago', '5m ago', '3h ago', '2d ago'; 'just now' under a second."""
    if moment is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if abs(seconds) < 1:
        return "just now"
    text = duration(abs(seconds))
    text = re.sub(r"^(\d+)(?:\.\d)?s$", r"\1s", text)  # 12.3s -> 12s
    text = re.sub(r"^(\d+[mhd])\d+[smh]$", r"\1", text)  # 4m05s -> 4m
    return f"{text} ago" if seconds > 0 else f"in {text}"


def stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def parse_span(text: str) -> timedelta:
    """'90s', '30m', '2h', '1d', '2h30m', '1w' -> timedelta."""
    compact = text.strip().lower().replace(" ", "")
    parts = _SPAN.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"not a time span: {text!r} (like 90s, 30m, 2h, 1d, 2h30m)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """'now', a span ago ('2h', '30m'), or an ISO 8601 time ('2024-05-01T12:00:00Z'; a time
    without an offset is UTC)."""
    now = now or datetime.now(UTC)
    if text.strip().lower() == "now":
        return now
    try:
        return now - parse_span(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (ISO 8601 like 2024-05-01T12:00:00Z, a span ago like 2h, or now)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def print_json(value: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, default=_jsonable), file=stream or sys.stdout)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # Decimal from DynamoDB, and anything else, as text


class Progress:
    """Lines that scroll, and under them one status line rewritten in place (a terminal
    only; elsewhere the status line is not drawn, so logs get the lines alone)."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty() if live is None else live
        self._shown = ""

    def line(self, text: str) -> None:
        self._clear()
        print(text, file=self._stream, flush=True)
        self._draw()

    def status(self, text: str) -> None:
        self._clear()
        self._shown = text
        self._draw()

    def done(self) -> None:
        self._clear()
        self._shown = ""

    def _clear(self) -> None:
        if self._live and self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _draw(self) -> None:
        if self._live and self._shown:
            self._stream.write(self._shown)
            self._stream.flush()
