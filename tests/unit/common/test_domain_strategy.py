"""domain.strategy: the UpdateEndpoint DeploymentConfig and the new-fleet latency alarm.

Limits are the SageMaker API's (botocore's sagemaker service model: TrafficRoutingConfig,
WaitIntervalInSeconds, TerminationWaitInSeconds, MaximumExecutionTimeoutInSeconds, AlarmList).
Valid shapes are also checked against the botocore service models (sagemaker UpdateEndpoint,
cloudwatch PutMetricAlarm), as the aws-sdk/sagemaker integrations would send them.
"""

from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from mlops_common.domain.strategy import deployment_config, new_fleet_latency_alarm
from mlops_common.errors import DeploymentConfigInvalid

ALARMS = ["mlops-endpoint-5xx", "mlops-new-fleet-latency"]
ROLLBACK_ALARMS = {"Alarms": [{"AlarmName": "mlops-endpoint-5xx"},
                              {"AlarmName": "mlops-new-fleet-latency"}]}  # fmt: skip
#: A valid CANARY rollout; each case changes only what it names.
VALID = {
    "strategy": "CANARY",
    "canary_percent": 25,
    "linear_percent": 25,
    "bake_seconds": 300,
    "termination_wait_seconds": 120,
    "max_execution_timeout_seconds": 3600,
    "alarms": ALARMS,
}


def config(**overrides: Any) -> dict[str, Any]:
    return deployment_config(**(VALID | overrides))


def problems_of(**overrides: Any) -> str:
    with pytest.raises(DeploymentConfigInvalid) as excinfo:
        config(**overrides)
    return str(excinfo.value)


@cache
def _input_shape(service: str, operation: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def assert_valid_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """botocore's own parameter validation (types, required members, enums, minimums)."""
    validate_parameters(params, _input_shape(service, operation).input_shape)


def assert_valid_update_endpoint(deployment: dict[str, Any]) -> None:
    assert_valid_request(
        "sagemaker",
        "UpdateEndpoint",
        {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": deployment},
    )


# ---- valid strategies ---------------------------------------------------------------------


def test_all_at_once_is_one_shift_with_a_bake_and_the_rollback_alarms() -> None:
    result = config(strategy="ALL_AT_ONCE")
    assert result == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": ROLLBACK_ALARMS,
    }
    assert_valid_update_endpoint(result)


def test_canary_shifts_a_capacity_percent_first() -> None:
    result = config(strategy="CANARY", canary_percent=10)
    assert result == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 300,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": ROLLBACK_ALARMS,
    }
    assert_valid_update_endpoint(result)


def test_linear_shifts_equal_capacity_percent_steps() -> None:
    result = config(strategy="LINEAR", linear_percent=20, bake_seconds=60)
    assert result == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 60,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            },
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": ROLLBACK_ALARMS,
    }
    assert_valid_update_endpoint(result)


@pytest.mark.parametrize(
    ("strategy", "canary", "linear"),
    [("CANARY", 1, 0), ("CANARY", 50, 0), ("LINEAR", 0, 10), ("LINEAR", 0, 50)],
)
def test_size_limits_are_inclusive_and_only_the_strategy_s_own_size_is_checked(
    strategy: str, canary: int, linear: int
) -> None:
    result = config(strategy=strategy, canary_percent=canary, linear_percent=linear)
    size = ("CanarySize", canary) if strategy == "CANARY" else ("LinearStepSize", linear)
    assert result["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": strategy,
        "WaitIntervalInSeconds": 300,
        size[0]: {"Type": "CAPACITY_PERCENT", "Value": size[1]},
    }
    assert_valid_update_endpoint(result)


def test_all_at_once_ignores_both_sizes() -> None:
    routing = config(strategy="ALL_AT_ONCE", canary_percent=0, linear_percent=0)[
        "BlueGreenUpdatePolicy"
    ]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}


@pytest.mark.parametrize(
    ("bake", "termination", "timeout", "alarms"),
    [(0, 0, 600, 1), (3600, 3600, 28800, 10)],
    ids=["lower-bounds", "upper-bounds"],
)
def test_range_bounds_are_inclusive(bake: int, termination: int, timeout: int, alarms: int) -> None:
    names = [f"alarm-{i}" for i in range(alarms)]
    result = config(
        strategy="ALL_AT_ONCE",
        bake_seconds=bake,
        termination_wait_seconds=termination,
        max_execution_timeout_seconds=timeout,
        alarms=names,
    )
    policy = result["BlueGreenUpdatePolicy"]
    assert (policy["TerminationWaitInSeconds"], policy["MaximumExecutionTimeoutInSeconds"]) == (
        termination,
        timeout,
    )
    assert result["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": n} for n in names]}
    assert_valid_update_endpoint(result)


# ---- invalid combinations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"canary_percent": 0}, "canary size 0% must be 1-50% of the fleet"),
        ({"canary_percent": 51}, "canary size 51% must be 1-50% of the fleet"),
        ({"strategy": "LINEAR", "linear_percent": 9}, "linear step 9% must be 10-50% of the fleet"),
        (
            {"strategy": "LINEAR", "linear_percent": 51},
            "linear step 51% must be 10-50% of the fleet",
        ),
        ({"bake_seconds": -1}, "bake time -1 s must be 0-3600 s"),
        ({"bake_seconds": 3601}, "bake time 3601 s must be 0-3600 s"),
        ({"termination_wait_seconds": -1}, "termination wait -1 s must be 0-3600 s"),
        ({"termination_wait_seconds": 3601}, "termination wait 3601 s must be 0-3600 s"),
        (
            {"max_execution_timeout_seconds": 599},
            "maximum execution timeout 599 s must be 600-28800 s",
        ),
        (
            {"max_execution_timeout_seconds": 28801},
            "maximum execution timeout 28801 s must be 600-28800 s",
        ),
        ({"alarms": []}, "0 rollback alarms; guardrails take 1-10"),
        ({"alarms": [f"a{i}" for i in range(11)]}, "11 rollback alarms; guardrails take 1-10"),
        (
            {"strategy": "BLUE_GREEN"},
            "strategy 'BLUE_GREEN' is not one of ALL_AT_ONCE, CANARY, LINEAR",
        ),
        ({"strategy": "canary"}, "strategy 'canary' is not one of ALL_AT_ONCE, CANARY, LINEAR"),
    ],
)
def test_each_invalid_value_is_rejected_naming_the_problem(
    overrides: dict[str, Any], message: str
) -> None:
    assert problems_of(**overrides) == message


@pytest.mark.parametrize(
    ("strategy", "percent", "steps"),
    [("ALL_AT_ONCE", 25, 1), ("CANARY", 25, 2), ("LINEAR", 25, 4), ("LINEAR", 30, 4),
     ("LINEAR", 50, 2), ("LINEAR", 10, 10)],
)  # fmt: skip
def test_timeout_must_be_longer_than_every_wait_of_the_rollout(
    strategy: str, percent: int, steps: int
) -> None:
    # Given bakes of 600 s after each of `steps` traffic shifts, then a 120 s termination wait
    waits = steps * 600 + 120
    sizes = {"canary_percent": percent, "linear_percent": percent, "bake_seconds": 600}
    # Then a timeout equal to the waits is rejected, naming the sum ...
    message = problems_of(strategy=strategy, max_execution_timeout_seconds=waits, **sizes)
    assert message == (
        f"maximum execution timeout {waits} s is not longer than the rollout's waits "
        f"({steps} x 600 s bake + 120 s termination wait = {waits} s)"
    )
    # ... and one second more is accepted
    accepted = config(strategy=strategy, max_execution_timeout_seconds=waits + 1, **sizes)
    assert accepted["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == waits + 1


def test_several_problems_are_reported_together() -> None:
    message = problems_of(
        strategy="CANARY",
        canary_percent=0,
        bake_seconds=4000,
        termination_wait_seconds=-5,
        max_execution_timeout_seconds=100,
        alarms=[],
    )
    assert message == "; ".join(
        [
            "canary size 0% must be 1-50% of the fleet",
            "bake time 4000 s must be 0-3600 s",
            "termination wait -5 s must be 0-3600 s",
            "maximum execution timeout 100 s must be 600-28800 s",
            "0 rollback alarms; guardrails take 1-10",
        ]
    )


def test_unknown_strategy_is_reported_with_the_other_problems() -> None:
    message = problems_of(strategy="SHADOW", linear_percent=5, alarms=[])
    assert message == (
        "strategy 'SHADOW' is not one of ALL_AT_ONCE, CANARY, LINEAR; "
        "0 rollback alarms; guardrails take 1-10"
    )


def test_invalid_config_error_is_the_domain_error_the_workflow_catches() -> None:
    # The class name is the ASL error name (errors.py); a ValueError would be States.TaskFailed.
    with pytest.raises(DeploymentConfigInvalid) as excinfo:
        config(strategy="NONE")
    assert type(excinfo.value).__name__ == "DeploymentConfigInvalid"


# ---- new-fleet latency alarm ------------------------------------------------------------------


def test_latency_alarm_watches_only_the_new_fleet_at_p90_in_microseconds() -> None:
    alarm = new_fleet_latency_alarm(
        "mlops-new-fleet-latency", "mlops-endpoint", "AllTraffic", "mlops-endpoint-v3-0a1b2c3d",
        250_000.0, 60, 2,
    )  # fmt: skip
    assert alarm == {
        "AlarmName": "mlops-new-fleet-latency",
        "AlarmDescription": "p90 model latency of mlops-endpoint-v3-0a1b2c3d above 250000 µs "
        "(armed by the DeployPipeline for this rollout)",
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        "Dimensions": [
            {"Name": "EndpointName", "Value": "mlops-endpoint"},
            {"Name": "VariantName", "Value": "AllTraffic"},
            {"Name": "EndpointConfigName", "Value": "mlops-endpoint-v3-0a1b2c3d"},
        ],
        "ExtendedStatistic": "p90",
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 250_000.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    assert_valid_request("cloudwatch", "PutMetricAlarm", alarm)
