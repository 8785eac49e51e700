"""Schedule expressions of EventBridge Scheduler (user guide, "Schedule types"): one-time
`at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` and `cron(minutes hours day-of-month month
day-of-week year)`, each evaluated in the schedule's ScheduleExpressionTimezone (IANA name,
default UTC).

Cron fields follow the EventBridge cron syntax: `,` `-` `*` `/` in every field, `?` in
day-of-month or day-of-week (one of the two must be `?`), `L` and `W` in day-of-month (`L`,
`15W`, `LW`), `L` and `#` in day-of-week (`6L` = last Friday, `6#3` = third Friday), month and
day names (JAN-DEC, SUN-SAT; day-of-week 1 = Sunday), years 1970-2199.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {name.upper(): n for n, name in enumerate(calendar.month_abbr) if name}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+([a-z]+)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
SEARCH_DAYS = 366 * 8  # how far ahead a cron expression is searched for its next time


class ExpressionError(ValueError):
    """Not a valid schedule expression (the message says why)."""


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"Invalid ScheduleExpressionTimezone: {name}") from exc


@dataclass(frozen=True)
class At:
    moment: datetime  # aware


@dataclass(frozen=True)
class Rate:
    seconds: int  # the interval in AWS seconds


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: str
    months: frozenset[int]
    day_of_week: str
    years: frozenset[int]
    tz: ZoneInfo

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time strictly after `moment` (aware) that the expression names."""
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if day.year in self.years and day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=self.tz
                        )
                        if candidate > moment:
                            return candidate
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.day_of_month != "?":
            return _day_of_month(self.day_of_month, day)
        return _day_of_week(self.day_of_week, day)


Expression = At | Rate | Cron


def parse(text: str, timezone: str | None = None) -> Expression:
    text = text.strip()
    tz = zone(timezone)
    if match := _AT.match(text):
        try:
            return At(datetime.fromisoformat(match.group(1)).replace(tzinfo=tz))
        except ValueError as exc:
            raise ExpressionError(f"Invalid at() time: {text}") from exc
    if match := _RATE.match(text):
        value, unit = int(match.group(1)), match.group(2)
        if value < 1 or unit not in RATE_UNITS or (value == 1) != (not unit.endswith("s")):
            raise ExpressionError(
                f"Invalid rate expression: {text} (value 1 takes a singular unit)"
            )
        return Rate(value * RATE_UNITS[unit])
    if match := _CRON.match(text):
        return _cron(match.group(1).split(), tz, text)
    raise ExpressionError(f"Invalid Schedule Expression {text}.")


def _cron(fields: list[str], tz: ZoneInfo, text: str) -> Cron:
    if len(fields) != 6:
        raise ExpressionError(f"Invalid cron expression (six fields expected): {text}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError(f"Invalid cron expression (exactly one day field is '?'): {text}")
    for field, pattern in (
        (dom, r"^(\?|L|LW|\d{1,2}W|[\d,\-*/]+)$"),
        (dow, r"^(\?|\d?L|\d#\d|[\dA-Z,\-*/]+)$"),
    ):
        if not re.match(pattern, field.upper()):
            raise ExpressionError(f"Invalid cron expression: {text}")
    return Cron(
        _values(minutes, 0, 59, {}, text),
        _values(hours, 0, 23, {}, text),
        dom.upper(),
        _values(month, 1, 12, MONTHS, text),
        dow.upper(),
        _values(year, 1970, 2199, {}, text),
        tz,
    )


def _values(field: str, low: int, high: int, names: dict[str, int], text: str) -> frozenset[int]:
    """`*`, `a`, `a-b`, `a/step`, `a-b/step`, `*/step` and lists of them, names allowed."""
    out: set[int] = set()
    for part in field.upper().split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                first, last = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                first, last = _number(a, names), _number(b, names)
            else:
                first = _number(body, names)
                last = high if step_text else first
        except ValueError as exc:
            raise ExpressionError(f"Invalid cron expression: {text}") from exc
        if not low <= first <= high or not low <= last <= high or step < 1:
            raise ExpressionError(f"Invalid cron expression (out of range): {text}")
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, names: dict[str, int]) -> int:
    return names[text] if text in names else int(text)


def _weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as cron's day-of-week counts."""
    return (day.isoweekday() % 7) + 1


def _day_of_month(field: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    if field.endswith("W"):
        target = last if field == "LW" else min(int(field[:-1]), last)
        return day.day == _nearest_weekday(day.year, day.month, target, last)
    return day.day in _values(field, 1, 31, {}, field)


def _nearest_weekday(year: int, month: int, target: int, last: int) -> int:
    weekday = date(year, month, target).isoweekday()  # 6 = Saturday, 7 = Sunday
    if weekday == 6:
        return target - 1 if target > 1 else target + 2
    if weekday == 7:
        return target + 1 if target < last else target - 2
    return target


def _day_of_week(field: str, day: date) -> bool:
    if field.endswith("L") and field != "L":  # the month's last such weekday
        return _weekday(day) == int(field[:-1]) and day + timedelta(days=7) > _month_end(day)
    if field == "L":
        return _weekday(day) == 7
    if "#" in field:
        weekday, nth = (int(n) for n in field.split("#"))
        return _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    return _weekday(day) in _values(field, 1, 7, DAYS, field)


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
