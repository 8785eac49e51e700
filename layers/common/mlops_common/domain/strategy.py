"""Deployment strategies: the UpdateEndpoint DeploymentConfig (BlueGreenUpdatePolicy with
AutoRollbackConfiguration), validated before any AWS call.

Limits are the SageMaker API's, as botocore's sagemaker service model states them: canary at
most 50% of the fleet and linear steps 10-50% (TrafficRoutingConfig.CanarySize and
.LinearStepSize), waits 0-3600 s (WaitIntervalInSeconds, TerminationWaitInSeconds),
MaximumExecutionTimeoutInSeconds 600-28800 s, 1-10 alarms (AlarmList). The timeout must also
exceed every wait of the rollout (its documentation), which this module sums per strategy.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DeploymentConfigInvalid

STRATEGIES = ("ALL_AT_ONCE", "CANARY", "LINEAR")


def traffic_steps(strategy: str, canary_percent: int, linear_percent: int) -> int:
    """How many traffic shifts (each followed by a bake) the rollout makes."""
    if strategy == "CANARY":
        return 2  # the canary, then the rest
    if strategy == "LINEAR":
        return math.ceil(100 / linear_percent)
    return 1


def deployment_config(
    strategy: str,
    canary_percent: int,
    linear_percent: int,
    bake_seconds: int,
    termination_wait_seconds: int,
    max_execution_timeout_seconds: int,
    alarms: list[str],
) -> dict[str, Any]:
    problems = []
    if strategy not in STRATEGIES:
        problems.append(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy == "CANARY" and not 1 <= canary_percent <= 50:
        problems.append(f"canary size {canary_percent}% must be 1-50% of the fleet")
    if strategy == "LINEAR" and not 10 <= linear_percent <= 50:
        problems.append(f"linear step {linear_percent}% must be 10-50% of the fleet")
    if not 0 <= bake_seconds <= 3600:
        problems.append(f"bake time {bake_seconds} s must be 0-3600 s")
    if not 0 <= termination_wait_seconds <= 3600:
        problems.append(f"termination wait {termination_wait_seconds} s must be 0-3600 s")
    if not 600 <= max_execution_timeout_seconds <= 28800:
        problems.append(
            f"maximum execution timeout {max_execution_timeout_seconds} s must be 600-28800 s"
        )
    if not 1 <= len(alarms) <= 10:
        problems.append(f"{len(alarms)} rollback alarms; guardrails take 1-10")
    if not problems:
        steps = traffic_steps(strategy, canary_percent, linear_percent)
        waits = steps * bake_seconds + termination_wait_seconds
        if max_execution_timeout_seconds <= waits:
            problems.append(
                f"maximum execution timeout {max_execution_timeout_seconds} s is not longer "
                f"than the rollout's waits ({steps} x {bake_seconds} s bake + "
                f"{termination_wait_seconds} s termination wait = {waits} s)"
            )
    if problems:
        raise DeploymentConfigInvalid("; ".join(problems))
    routing: dict[str, Any] = {"Type": strategy, "WaitIntervalInSeconds": bake_seconds}
    if strategy == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": canary_percent}
    if strategy == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": linear_percent}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": max_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def new_fleet_latency_alarm(
    name: str,
    endpoint: str,
    variant: str,
    config_name: str,
    threshold_us: float,
    period_seconds: int,
    evaluation_periods: int,
) -> dict[str, Any]:
    """PutMetricAlarm request watching only the new fleet: its ModelLatency datapoints carry
    EndpointConfigName=<new config> during the rollout (SageMaker guardrails guide)."""
    return {
        "AlarmName": name,
        "AlarmDescription": f"p90 model latency of {config_name} above {threshold_us:.0f} µs "
        "(armed by the DeployPipeline for this rollout)",
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        "Dimensions": [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
            {"Name": "EndpointConfigName", "Value": config_name},
        ],
        "ExtendedStatistic": "p90",
        "Period": period_seconds,
        "EvaluationPeriods": evaluation_periods,
        "Threshold": threshold_us,  # ModelLatency is in microseconds
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
