"""plan_rollback: is a rollback due, and to which last known-good version?

The registry is moto; DescribeEndpoint goes through Stubber (Updating, LastModifiedTime). The
live version is read from the endpoint config's name, as resource_name writes it.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.deployment import resource_name
from mlops_common.domain.rollback import plan_rollback
from mlops_common.errors import EventMalformed
from mlops_common.models import Execution, RollbackPlan
from mlops_common.settings import RollbackSettings

ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ENDPOINT = "mlops-endpoint"
SETTINGS = RollbackSettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn=ROLE,
    error_alarm_name="mlops-endpoint-5xx",
    ledger_table="mlops-ledger",
    artifacts_bucket="mlops-artifacts",
    inference_image_uri=IMAGE,
)
EXECUTION = Execution(
    Name="rollback-1", Id="arn:aws:states:us-east-1:123456789012:execution:rollback:rollback-1"
)
OPERATOR = {"operator": {"requested_by": "alice@example.com", "reason": "complaints about v3"}}
DEPLOYED_AT = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)  # the live config's LastModifiedTime


def live(version: int) -> str:
    return resource_name(ENDPOINT, version, f"deploy-{version}")


def packages(world: Any, *statuses: str) -> list[str]:
    """Versions 1..n of the group with these approval statuses."""
    return [world.create_package(status) for status in statuses]


def alarm_event(time: str, state: str = "ALARM", name: str = "mlops-endpoint-5xx") -> dict:
    """`aws.cloudwatch` / `CloudWatch Alarm State Change` (the AWS example's shape)."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": time},
            "previousState": {"value": "OK" if state == "ALARM" else "ALARM"},
            "configuration": {"metrics": []},
        },
    }


def plan(world: Any, request: dict, endpoints: Any) -> RollbackPlan:
    return plan_rollback(
        request, EXECUTION, SETTINGS, world.registry(), endpoints, world.store(), world.ledger()
    )


# ---- operator requests ------------------------------------------------------------------------


def test_operator_request_rolls_back_to_the_newest_older_approved_version(
    world: Any, endpoint: Any
) -> None:
    # Given v1..v3 approved and v3 live
    v1, v2, v3 = packages(world, "Approved", "Approved", "Approved")
    # When an operator asks for a rollback
    result = plan(world, OPERATOR, endpoint.present("InService", live(3)))
    # Then v2 is deployed, in requests named for this execution
    name = resource_name(ENDPOINT, 2, "rollback-1")
    assert result.model_dump(exclude={"model", "endpoint_config"}) == {
        "action": "ROLLBACK",
        "reason": "complaints about v3; rolling back from version 3 to 2",
        "trigger": "operator",
        "requested_by": "alice@example.com",
        "endpoint_name": ENDPOINT,
        "execution_name": "rollback-1",
        "from_version": 3,
        "from_package_arn": v3,
        "previous_config": live(3),
        "model_package_arn": v2,
        "version": 2,
        "passed_over": [],
    }
    assert result.model["ModelName"] == result.endpoint_config["EndpointConfigName"] == name
    assert result.model["ExecutionRoleArn"] == ROLE
    v2_container = world.sagemaker.describe_model_package(ModelPackageName=v2)[
        "InferenceSpecification"
    ]["Containers"][0]
    assert result.model["PrimaryContainer"]["ModelDataUrl"] == v2_container["ModelDataUrl"]
    assert {"Key": "mlops:model-package-arn", "Value": v2} in result.model["Tags"]
    assert result.endpoint_config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": name,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
        }
    ]
    # And the requests are valid SageMaker requests (moto validates them with botocore)
    world.sagemaker.create_model(**result.model)
    world.sagemaker.create_endpoint_config(**result.endpoint_config)
    assert v1 not in (result.model_package_arn, result.from_package_arn)


def test_rollback_never_goes_forward_to_a_newer_approved_version(world: Any, endpoint: Any) -> None:
    # Given v2 is live and v3, newer, is approved but was never deployed
    v1, _, _ = packages(world, "Approved", "Approved", "Approved")
    result = plan(world, OPERATOR, endpoint.present("InService", live(2)))
    assert (result.action, result.version, result.model_package_arn) == ("ROLLBACK", 1, v1)
    assert result.reason == "complaints about v3; rolling back from version 2 to 1"


def test_rollback_skips_versions_that_are_not_approved(world: Any, endpoint: Any) -> None:
    v1, *_ = packages(world, "Approved", "PendingManualApproval", "Rejected", "Approved")
    result = plan(world, OPERATOR, endpoint.present("InService", live(4)))
    assert (result.action, result.version, result.model_package_arn) == ("ROLLBACK", 1, v1)


def test_only_the_live_version_approved_is_nothing_and_the_endpoint_keeps_serving_it(
    world: Any, endpoint: Any
) -> None:
    _, v2 = packages(world, "Rejected", "Approved")
    result = plan(world, OPERATOR, endpoint.present("InService", live(2)))
    assert result.model_dump() == {
        "action": "NOTHING",
        "reason": "complaints about v3; no approved version older than the live one (2) exists, "
        "so the endpoint keeps serving it",
        "trigger": "operator",
        "requested_by": "alice@example.com",
        "endpoint_name": ENDPOINT,
        "execution_name": "rollback-1",
        "from_version": 2,
        "from_package_arn": v2,
        "previous_config": live(2),
        "model_package_arn": "",
        "version": 0,
        "model": {},
        "endpoint_config": {},
        "passed_over": [],
    }


@pytest.mark.parametrize(
    "request_",
    [
        {"operator": {"requested_by": "alice@example.com"}},
        {"operator": {"reason": "complaints"}},
        {"operator": {"requested_by": "", "reason": "complaints"}},
        {"operator": {"requested_by": "alice@example.com", "reason": ""}},
        {"operator": "alice@example.com"},
        {"operator": None},
    ],
    ids=["no-reason", "no-requester", "empty-requester", "empty-reason", "string", "null"],
)
def test_malformed_operator_request_is_event_malformed_before_any_call(
    world: Any, endpoint: Any, request_: dict
) -> None:
    # The stubbed client has nothing queued: a SageMaker call would fail differently.
    with pytest.raises(EventMalformed, match="^operator request needs requested_by and reason: "):
        plan_rollback(
            request_, EXECUTION, SETTINGS, ModelRegistry(endpoint.client, world.group),
            endpoint.untouched(), world.store(), world.ledger(),
        )  # fmt: skip


# ---- the live package turning Rejected --------------------------------------------------------


def test_live_version_rejected_rolls_back(world: Any, endpoint: Any) -> None:
    # Given v3 is live and was just rejected in the registry
    _, v2, v3 = packages(world, "Approved", "Approved", "Approved")
    world.sagemaker.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Rejected")
    # When its state-change event arrives
    event = world.package_event(v3, 3, status="Rejected")
    result = plan(world, event, endpoint.present("InService", live(3)))
    # Then
    assert (result.action, result.version, result.model_package_arn) == ("ROLLBACK", 2, v2)
    assert (result.trigger, result.requested_by) == ("rejected-package", "model registry")
    assert result.reason == "version 3 was set to Rejected; rolling back from version 3 to 2"
    # v3 is no longer approved, so there is nothing left to reject when the rollback is recorded
    assert (result.from_version, result.from_package_arn) == (3, None)


@pytest.mark.parametrize(("version", "status"), [(2, "Rejected"), (3, "Approved")])
def test_package_event_not_rejecting_the_live_version_is_skipped(
    world: Any, endpoint: Any, version: int, status: str
) -> None:
    arns = packages(world, "Approved", "Approved", "Approved")
    event = world.package_event(arns[version - 1], version, status=status)
    result = plan(world, event, endpoint.present("InService", live(3)))
    assert (result.action, result.trigger) == ("SKIP", "rejected-package")
    assert result.reason == (
        f"version {version} was set to {status}; the live version is 3, so production is unaffected"
    )


def test_rejected_event_of_another_group_does_not_roll_back(world: Any, endpoint: Any) -> None:
    # Given our v3 is live, and another group's v3 is rejected
    packages(world, "Approved", "Approved", "Approved")
    other = "arn:aws:sagemaker:us-east-1:123456789012:model-package/someone-elses-models/3"
    event = world.package_event(other, 3, status="Rejected", group="someone-elses-models")
    # When / Then the event is refused as plan_deployment refuses it, before any SageMaker call
    with pytest.raises(EventMalformed, match="^package group someone-elses-models is not"):
        plan(world, event, endpoint.untouched())


# ---- the regression alarm ---------------------------------------------------------------------


def test_alarm_after_the_live_config_went_in_service_rolls_back(world: Any, endpoint: Any) -> None:
    _, v2, v3 = packages(world, "Approved", "Approved", "Approved")
    endpoints = endpoint.present("InService", live(3), last_modified=DEPLOYED_AT)
    result = plan(world, alarm_event("2026-03-02T10:30:45Z"), endpoints)
    assert (result.action, result.version, result.model_package_arn) == ("ROLLBACK", 2, v2)
    assert (result.trigger, result.requested_by) == ("alarm", "alarm mlops-endpoint-5xx")
    assert result.reason == "alarm entered ALARM; rolling back from version 3 to 2"
    assert result.from_package_arn == v3


@pytest.mark.parametrize("time", ["2026-03-02T09:59:59Z", "2026-03-02T10:00:00Z"])
def test_alarm_that_predates_the_live_config_is_skipped(
    world: Any, endpoint: Any, time: str
) -> None:
    # It fired during the deployment, whose guardrails already handled it.
    packages(world, "Approved", "Approved", "Approved")
    endpoints = endpoint.present("InService", live(3), last_modified=DEPLOYED_AT)
    result = plan(world, alarm_event(time), endpoints)
    assert (result.action, result.trigger) == ("SKIP", "alarm")
    assert result.reason == (
        "alarm entered ALARM; the alarm predates the live configuration (it fired during the "
        "deployment, which guardrails already handled)"
    )


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_alarm_leaving_alarm_is_skipped(world: Any, endpoint: Any, state: str) -> None:
    packages(world, "Approved", "Approved", "Approved")
    endpoints = endpoint.present("InService", live(3), last_modified=DEPLOYED_AT)
    result = plan(world, alarm_event("2026-03-02T10:30:45Z", state=state), endpoints)
    assert (result.action, result.trigger) == ("SKIP", "alarm")
    assert result.reason == f"alarm entered {state}; only an alarm entering ALARM rolls back"


# ---- the endpoint's state decides first -------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"]
)
def test_an_endpoint_busy_with_a_change_from_outside_makes_the_rollback_wait(
    world: Any, endpoint: Any, status: str
) -> None:
    # This execution holds the endpoint lock: no deployment of the stack is running, so the
    # change is someone else's. The rollback waits for it to settle, then plans again.
    packages(world, "Approved", "Approved")
    result = plan(world, OPERATOR, endpoint.present(status, live(2)))
    assert result.model_dump(include={"action", "reason", "from_version"}) == {
        "action": "WAIT",
        "reason": f"complaints about v3; {ENDPOINT} is {status} by a change outside the control "
        "plane; waiting for it to settle",
        "from_version": None,
    }


@pytest.mark.parametrize("status", ["Failed", "UpdateRollbackFailed"])
def test_broken_endpoint_is_skipped_naming_the_repair(
    world: Any, endpoint: Any, status: str
) -> None:
    # No deployment is running there: the skip reason must not send the operator to wait for one.
    packages(world, "Approved", "Approved")
    result = plan(world, OPERATOR, endpoint.present(status, live(2), reason="instance failure"))
    assert result.model_dump(include={"action", "reason", "from_version"}) == {
        "action": "SKIP",
        "reason": f"complaints about v3; {ENDPOINT} is {status}: an operator must repair it "
        "before a rollback can run",
        "from_version": None,
    }


def test_missing_endpoint_is_skipped(world: Any, endpoint: Any) -> None:
    packages(world, "Approved", "Approved")
    result = plan(world, OPERATOR, endpoint.absent())
    assert (result.action, result.reason) == (
        "SKIP",
        f"complaints about v3; {ENDPOINT} does not exist: nothing is live",
    )


# ---- anything else ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        {},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm Configuration Change"},
        {"requested_by": "alice@example.com", "reason": "operator fields at the top level"},
    ],
    ids=["empty", "s3", "other-cloudwatch-event", "unwrapped-operator"],
)
def test_unknown_request_is_event_malformed(world: Any, endpoint: Any, request_: dict) -> None:
    with pytest.raises(EventMalformed, match="^expected a Model Package State Change, a Cloud"):
        plan(world, request_, endpoint.untouched())


def test_malformed_package_event_is_event_malformed(world: Any, endpoint: Any) -> None:
    with pytest.raises(EventMalformed, match="^not a Model Package State Change: "):
        plan(world, {"source": "aws.sagemaker", "detail": {}}, endpoint.untouched())


def test_an_alarm_other_than_the_stacks_rollback_alarm_is_malformed(
    world: Any, endpoint: Any
) -> None:
    request_ = alarm_event("2026-01-01T00:00:00Z", name="someone-elses-alarm")
    with pytest.raises(EventMalformed, match="is not this stack's rollback alarm"):
        plan(world, request_, endpoint.untouched())


# ---- an alarm that stays in ALARM (issue 9) ---------------------------------------------------


def alarm_plan(world: Any, endpoint: Any, time: str, config: str, name: str) -> RollbackPlan:
    endpoints = endpoint.present("InService", config, last_modified=DEPLOYED_AT)
    execution = Execution(Name=name, Id=f"arn:aws:states:us-east-1:123456789012:execution:r:{name}")
    return plan_rollback(
        alarm_event(time), execution, SETTINGS, world.registry(), endpoints, world.store(),
        world.ledger(),
    )  # fmt: skip


def test_an_alarm_entering_alarm_again_for_the_same_live_config_does_not_roll_back_twice(
    world: Any, endpoint: Any
) -> None:
    # Given v3 live, only v3 approved: the first alarm's rollback finds nothing to go back to
    packages(world, "Rejected", "Rejected", "Approved")
    first = alarm_plan(world, endpoint, "2026-03-02T10:30:45Z", live(3), "rollback-1")
    assert first.action == "NOTHING"
    # When the alarm leaves ALARM and enters it again while v3's config is still live
    again = alarm_plan(world, endpoint, "2026-03-02T10:41:02Z", live(3), "rollback-2")
    # Then the second rollback is not needed, and says which execution answered the alarm
    assert (again.action, again.trigger) == ("SKIP", "alarm")
    assert again.reason == (
        f"alarm entered ALARM; execution rollback-1 already answered this alarm for {live(3)}, "
        "which is still live: one rollback per alarm and live configuration"
    )


def test_the_same_execution_planning_again_keeps_its_claim(world: Any, endpoint: Any) -> None:
    # PlanRollback runs again for one execution after a WAIT, or when its task is retried
    packages(world, "Approved", "Approved", "Approved")
    first = alarm_plan(world, endpoint, "2026-03-02T10:30:45Z", live(3), "rollback-1")
    again = alarm_plan(world, endpoint, "2026-03-02T10:30:45Z", live(3), "rollback-1")
    assert (first.action, again.action, again.version) == ("ROLLBACK", "ROLLBACK", 2)


def test_an_alarm_on_a_new_live_config_rolls_back_again(world: Any, endpoint: Any) -> None:
    # v3's config was answered; after a deployment of v4 the same alarm may roll v4 back
    packages(world, "Approved", "Approved", "Approved", "Approved")
    alarm_plan(world, endpoint, "2026-03-02T10:30:45Z", live(3), "rollback-1")
    later = alarm_plan(world, endpoint, "2026-03-02T11:30:45Z", live(4), "rollback-2")
    assert (later.action, later.from_version) == ("ROLLBACK", 4)
    claims = [
        (item["pk"], item["status"], item["run_id"])
        for item in world.table.scan()["Items"]
        if item["pk"].startswith("rollback#alarm#")
    ]
    assert sorted(claims) == [
        (f"rollback#alarm#mlops-endpoint-5xx#{live(3)}", "ANSWERED", "rollback-1"),
        (f"rollback#alarm#mlops-endpoint-5xx#{live(4)}", "ANSWERED", "rollback-2"),
    ]
