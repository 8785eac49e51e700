"""How often the twin publishes metrics and evaluates alarms, at any clock scale.

CloudWatch's smallest alarm period is 10 s (PutMetricAlarm: Period 10, 30 or a multiple of 60).
On the twin's clock it lasts 10 * time_scale real seconds (0.1 s at 1/100, 0.5 s at 1/20), so
hosting flushes its datapoints and the evaluator looks at its alarms several times within it.
What keeps a period from looking empty while requests flow is not speed, though: datapoints
carry the time they were made, and the evaluator judges only up to the moment every publisher
has flushed (`AlarmEvaluator(settled_until=...)`), as CloudWatch evaluates with a delay for
late datapoints.
"""

from __future__ import annotations

SMALLEST_PERIOD_S = 10


def _within(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def metrics_flush_interval(time_scale: float) -> float:
    """Real seconds between hosting's PutMetricData calls: a quarter of the smallest period,
    between 50 ms and 1 s."""
    return _within(SMALLEST_PERIOD_S * time_scale / 4, 0.05, 1.0)


def evaluation_interval(time_scale: float) -> float:
    """Real seconds between alarm evaluations: half the smallest period, between 50 ms and
    0.5 s."""
    return _within(SMALLEST_PERIOD_S * time_scale / 2, 0.05, 0.5)
