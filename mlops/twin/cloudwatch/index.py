"""moto's datapoints by metric, in time order, read incrementally.

moto keeps every datapoint of an account and region in one list it only appends to
(CloudWatchBackend.metric_data). The evaluator looks at a few metrics many times a second; this
index reads only what was appended since the last look, files each datapoint under its metric
in timestamp order, and finds a window by bisection, so an evaluation costs what the window
holds rather than everything ever published.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops.twin.aws.timestamps import naive_utc


@dataclass
class _Series:
    times: list[datetime] = field(default_factory=list)  # naive UTC, ascending
    datums: list[Any] = field(default_factory=list)

    def add(self, datum: Any) -> None:
        moment = naive_utc(datum.timestamp)
        at = bisect.bisect_right(self.times, moment)
        self.times.insert(at, moment)
        self.datums.insert(at, datum)


class MetricIndex:
    def __init__(self) -> None:
        self._source: list[Any] | None = None
        self._read = 0
        self._series: dict[tuple[str, str], _Series] = {}

    def update(self, metric_data: list[Any]) -> None:
        """Read what moto appended to `metric_data` since the last update (a new list, as after
        a reset of moto's backends, starts the index again)."""
        if metric_data is not self._source:
            self._source, self._read, self._series = metric_data, 0, {}
        new = metric_data[self._read :]  # a slice is taken under the GIL: a consistent snapshot
        self._read += len(new)
        for datum in new:
            key = (datum.namespace, datum.name)
            self._series.setdefault(key, _Series()).add(datum)

    def between(
        self, namespace: str, name: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Any]]:
        """(naive UTC time, datum) of the metric's datapoints with start <= time < end."""
        series = self._series.get((namespace, name))
        if series is None:
            return []
        low = bisect.bisect_left(series.times, naive_utc(start))
        high = bisect.bisect_left(series.times, naive_utc(end))
        return list(zip(series.times[low:high], series.datums[low:high], strict=True))
