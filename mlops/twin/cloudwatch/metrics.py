"""How the twin's own services talk to CloudWatch, as AWS services do: hosting publishes its
endpoint metrics (PutMetricData) and reads its rollback alarms (DescribeAlarms)."""

from __future__ import annotations

from typing import Any

PUT_METRIC_DATA_BATCH = 500  # PutMetricData takes 1000 values at most (API reference)


def put_metric_data(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    for start in range(0, len(data), PUT_METRIC_DATA_BATCH):
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=data[start : start + PUT_METRIC_DATA_BATCH]
        )


def alarm_state(cloudwatch: Any, name: str) -> str:
    """The alarm's StateValue; INSUFFICIENT_DATA for an alarm that does not exist."""
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"] if alarms else "INSUFFICIENT_DATA"
