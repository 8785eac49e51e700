import math
from datetime import datetime
from typing import Any


class EndpointMetrics:
    """CloudWatch statistics of one endpoint's variants (namespace AWS/SageMaker)."""

    def __init__(self, cloudwatch_client: Any, endpoint_name: str) -> None:
        self._cw = cloudwatch_client
        self._endpoint = endpoint_name

    def statistic(
        self, variant: str, metric: str, statistic: str, start: datetime, end: datetime
    ) -> float | None:
        """One value over [start, end] (Sum or Average), None if nothing was published."""
        period = max(60, math.ceil((end - start).total_seconds() / 60) * 60)
        points = self._cw.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            StartTime=start,
            EndTime=end,
            Period=period,
            Statistics=["Sum", "SampleCount"],
            Dimensions=[
                {"Name": "EndpointName", "Value": self._endpoint},
                {"Name": "VariantName", "Value": variant},
            ],
        )["Datapoints"]
        total = sum(p["Sum"] for p in points)
        count = sum(p["SampleCount"] for p in points)
        if not count:
            return None
        # Weighted over every datapoint, whatever periods CloudWatch returned.
        return float(total if statistic == "Sum" else total / count)


class MetricPublisher:
    """PutMetricData into one namespace (at most 1000 metrics per call, as the API allows)."""

    BATCH = 1000

    def __init__(self, cloudwatch_client: Any, namespace: str) -> None:
        self._cw = cloudwatch_client
        self.namespace = namespace

    def publish(self, data: list[dict[str, Any]]) -> None:
        for start in range(0, len(data), self.BATCH):
            self._cw.put_metric_data(
                Namespace=self.namespace, MetricData=data[start : start + self.BATCH]
            )
