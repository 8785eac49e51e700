"""The samples of guarded deployments and the RollbackPipeline: the alarm events have the shape
AWS documents and the twin emits (mlops/twin/alarms.py), each trigger sample is the trigger it
claims to be, and the function samples agree with each other and with the template."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlops_common import models
from mlops_common.domain.deployment import live_package_version, resource_name
from mlops_common.domain.rollback import plan_rollback
from mlops_common.settings import RollbackSettings

from mlops.twin.cloudformation.template import Context, evaluate, load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
STACK = "mlops-dev"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ALARM_EVENTS = sorted(
    p.relative_to(EVENTS / "rules").as_posix() for p in (EVENTS / "rules").rglob("alarm_*.json")
)
SETTINGS = RollbackSettings(
    endpoint_name=f"{STACK}-endpoint",
    model_package_group=f"{STACK}-models",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/r",
    error_alarm_name=f"{STACK}-endpoint-5xx",
    ledger_table=f"{STACK}-ledger",
    artifacts_bucket=f"{STACK}-artifactsbucket-example",
    inference_image_uri=IMAGE,
)


def _load(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


def _template_resource(logical: str) -> dict[str, Any]:
    """A resource's Properties, resolved for the placeholder stack with default parameters."""
    template = load_template(ROOT / "template.yaml")
    parameters = resolve_parameters(
        template, {"TrainingImageUri": IMAGE, "InferenceImageUri": IMAGE}
    )
    ctx = Context(
        parameters=parameters,
        pseudo={"AWS::StackName": STACK, "AWS::Region": "us-east-1"},
        refs={"NotificationTopic": f"arn:aws:sns:us-east-1:123456789012:{STACK}-notifications"},
    )
    return evaluate(template["Resources"][logical]["Properties"], ctx)


class NoEndpoint:
    """Endpoints fake: nothing is live, so plan_rollback stops right after naming the trigger."""

    def describe(self, name: str) -> None:
        return None


@pytest.mark.parametrize("name", ALARM_EVENTS)
def test_alarm_events_have_the_cloudwatch_alarm_state_change_shape(name: str) -> None:
    event = _load(f"rules/{name}")
    detail = event["detail"]
    assert (event["source"], event["detail-type"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
    )
    assert set(detail) == {"alarmName", "configuration", "previousState", "state"}
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{detail['alarmName']}"
    assert event["resources"] == [arn]
    state, previous = detail["state"], detail["previousState"]
    assert set(state) == {"value", "reason", "reasonData", "timestamp"}
    assert {"value", "reason", "timestamp"} <= set(previous)
    assert state["value"] != previous["value"]  # a state *change*
    # The envelope's time is the evaluation's, to the second (CloudWatch's form in `timestamp`)
    assert state["timestamp"].startswith(event["time"].removesuffix("Z") + ".")
    assert state["timestamp"].endswith("+0000") and previous["timestamp"] < state["timestamp"]
    reason_data = json.loads(state["reasonData"])
    assert reason_data["version"] == "1.0"
    assert set(reason_data) >= {"queryDate", "statistic", "period", "recentDatapoints", "threshold"}
    [metric] = detail["configuration"]["metrics"]
    # The twin names the single metric by a UUID derived from the alarm ARN (AWS: random)
    assert metric["id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, arn))
    assert metric["returnData"] is True
    assert (metric["metricStat"]["stat"], metric["metricStat"]["period"]) == (
        reason_data["statistic"],
        reason_data["period"],
    )


@pytest.mark.parametrize(
    "name", ["alarm_state_change.json", "near_miss/alarm_state_change_ok.json"]
)
def test_error_alarm_samples_are_the_alarm_the_template_creates(name: str) -> None:
    alarm = _template_resource("EndpointErrorAlarm")
    event = _load(f"rules/{name}")
    detail = event["detail"]
    assert detail["alarmName"] == alarm["AlarmName"] == f"{STACK}-endpoint-5xx"
    assert detail["configuration"]["description"] == alarm["AlarmDescription"]
    stat = detail["configuration"]["metrics"][0]["metricStat"]
    assert stat == {
        "metric": {
            "dimensions": {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
            "name": alarm["MetricName"],
            "namespace": alarm["Namespace"],
        },
        "period": int(alarm["Period"]),
        "stat": alarm["Statistic"],
    }
    assert json.loads(detail["state"]["reasonData"])["threshold"] == float(alarm["Threshold"])


def test_alarm_sample_enters_alarm_and_the_ok_near_miss_leaves_it() -> None:
    entering = _load("rules/alarm_state_change.json")["detail"]
    leaving = _load("rules/near_miss/alarm_state_change_ok.json")["detail"]
    assert (entering["previousState"]["value"], entering["state"]["value"]) == ("OK", "ALARM")
    assert (leaving["previousState"]["value"], leaving["state"]["value"]) == ("ALARM", "OK")
    # The OK sample follows the ALARM sample: its previous state is that state
    assert leaving["previousState"] == entering["state"]


def test_other_alarm_near_miss_is_the_new_fleet_latency_alarm() -> None:
    # Guardrails roll a rollout back on it; the RollbackPipeline must never start on it.
    detail = _load("rules/near_miss/alarm_state_change_other_alarm.json")["detail"]
    assert detail["alarmName"] == _template_resource("NewFleetLatencyAlarm")["AlarmName"]
    assert detail["state"]["value"] == "ALARM"


@pytest.mark.parametrize(
    ("sample", "trigger", "requested_by"),
    [
        ("rules/model_package_rejected.json", "rejected-package", "model registry"),
        ("rules/alarm_state_change.json", "alarm", f"alarm {STACK}-endpoint-5xx"),
        ("functions/plan_rollback.json#request", "operator", "alice@example.com"),
    ],
)
def test_each_trigger_sample_is_recognised_as_its_trigger(
    sample: str, trigger: str, requested_by: str
) -> None:
    path, _, key = sample.partition("#")
    request = _load(path)[key] if key else _load(path)
    execution = models.Execution(Name="r", Id="arn:aws:states:us-east-1:123456789012:execution:x:r")
    plan = plan_rollback(request, execution, SETTINGS, None, NoEndpoint(), None, None)  # type: ignore[arg-type]
    assert (plan.action, plan.trigger, plan.requested_by) == ("SKIP", trigger, requested_by)


def test_plan_rollback_sample_is_an_operator_request_started_by_hand() -> None:
    sample = _load("functions/plan_rollback.json")
    assert sample["execution"]["Input"] == sample["request"]
    operator = models.OperatorRequest.model_validate(sample["request"]["operator"])
    assert set(sample["request"]) == {"operator"}
    assert operator.requested_by and operator.reason
    # The template names the pipeline <stack>-RollbackPipeline (AcquireEndpoint's policy)
    assert f":execution:{STACK}-RollbackPipeline:" in sample["execution"]["Id"]


def test_record_rollback_sample_is_the_plan_of_the_plan_rollback_sample() -> None:
    started = _load("functions/plan_rollback.json")
    sample = _load("functions/record_rollback.json")
    plan = models.RollbackPlan.model_validate(sample["plan"])
    operator = started["request"]["operator"]
    assert sample["execution"] == started["execution"]
    assert (plan.action, plan.trigger, plan.requested_by) == (
        "ROLLBACK",
        "operator",
        operator["requested_by"],
    )
    assert plan.reason == (
        f"{operator['reason']}; rolling back from version {plan.from_version} to {plan.version}"
    )
    # Names as plan_rollback writes them, and the versions they carry
    name = resource_name(plan.endpoint_name, plan.version, sample["execution"]["Name"])
    assert plan.model["ModelName"] == plan.endpoint_config["EndpointConfigName"] == name
    previous = {"EndpointConfigName": plan.previous_config}
    assert live_package_version(None, previous) == plan.from_version > plan.version  # type: ignore[arg-type]
    assert plan.model_package_arn.endswith(f"/{STACK}-models/{plan.version}")
    assert plan.from_package_arn is not None
    assert plan.from_package_arn.endswith(f"/{STACK}-models/{plan.from_version}")
    # Every field of RollbackPlan is in the sample (a stale sample would miss new ones)
    assert set(sample["plan"]) == set(models.RollbackPlan.model_fields)


@pytest.mark.parametrize(
    "function", ["verify_deployment", "smoke_test", "compare_shadow", "judge_ab_test"]
)
def test_deploy_plan_samples_carry_every_field_of_the_current_deploy_plan(function: str) -> None:
    sample = _load(f"functions/{function}.json")["plan"]
    plan = models.DeployPlan.model_validate(sample)
    assert set(sample) == set(models.DeployPlan.model_fields)
    config = plan.endpoint_config["EndpointConfigName"]
    assert {"Name": "EndpointConfigName", "Value": config} in plan.latency_alarm["Dimensions"]
    alarms = plan.deployment_config["AutoRollbackConfiguration"]["Alarms"]
    assert alarms == [
        {"AlarmName": f"{STACK}-endpoint-5xx"},
        {"AlarmName": plan.latency_alarm["AlarmName"]},
    ]
