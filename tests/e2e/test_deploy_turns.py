"""One workflow at a time per endpoint, the champion, and provenance, in the twin (issues 8 and 9),
on one stack deploying ALL_AT_ONCE:

two approvals racing deploy one after the other, the second waiting its turn in its history; an
older approval arriving after a newer one ends Superseded; a tampered model artifact ends
ModelProvenanceInvalid with nothing deployed; an alarm that enters ALARM again while the same
config is live does not start a second rollback.

Each test starts from whatever good, approved version is live and ends on one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from endpoint_versions import (
    TRAINED,
    approval,
    deploy_good,
    live_config,
    live_version,
    package_arn,
    version_of,
)

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import TrafficClient, publish_faulty_code, register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def deploy_run(h: Any, version: int) -> Any:
    """The DeployPipeline execution started by the approval of `version` (None: none yet)."""
    sfn = h.client("stepfunctions")
    for view in h.watcher.executions.values():
        if view.workflow != "DeployPipeline":
            continue
        started = json.loads(sfn.describe_execution(executionArn=view.arn)["input"])
        if started["detail"]["ModelPackageVersion"] == version:
            return view
    return None


def deploying(h: Any, version: int) -> bool:
    """Has the deployment of `version` planned to deploy and begun creating its model?"""
    run = deploy_run(h, version)
    return run is not None and "CreateModel" in h.states_entered(run.arn)


def first_turn(h: Any, arn: str) -> dict[str, Any]:
    """AcquireEndpoint's first answer in an execution's history (at `$.lock.Payload`)."""
    [answer, *_] = [
        json.loads(e["stateExitedEventDetails"]["output"])["lock"]["Payload"]
        for e in h.history(arn)
        if e.get("stateExitedEventDetails", {}).get("name") == "AcquireEndpoint"
    ]
    return answer


def lock(h: Any) -> dict[str, Any]:
    item = h.client("dynamodb").get_item(
        TableName=h.twin.outputs["LedgerTableName"],
        Key={"pk": {"S": f"lock#endpoint#{h.twin.outputs['EndpointName']}"}, "sk": {"S": "lock"}},
        ConsistentRead=True,
    )["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def test_two_approvals_racing_deploy_one_after_the_other_the_second_waiting_its_turn(turns):
    before = set(turns.watcher.executions)
    # Given a first approval whose deployment is under way,
    first = version_of(register_version(turns.twin, package_arn(turns, TRAINED)))
    turns.wait_for(lambda w: deploying(turns, first), 60)
    # when a second version is approved while it rolls out,
    second = version_of(register_version(turns.twin, package_arn(turns, TRAINED)))
    turns.settle(before)
    # then both deploy, one after the other: the second waited for its turn, visibly,
    a, b = deploy_run(turns, first), deploy_run(turns, second)
    for run in (a, b):
        assert (run.status, turns.states_entered(run.arn)[-1]) == ("SUCCEEDED", "Deployed"), (
            run.error,
            run.cause,
        )
    entered = turns.states_entered(b.arn)
    assert entered[:4] == ["LoadSettings", "AcquireEndpoint", "EndpointTurn", "WaitForTurn"]
    waited = first_turn(turns, b.arn)
    assert (waited["acquired"], waited["holder"]) == (False, a.arn)
    assert waited["reason"].startswith(f"waiting for a turn: deploy execution {a.arn}")
    # and planned only once the first had ended,
    a_ended = turns.client("stepfunctions").describe_execution(executionArn=a.arn)["stopDate"]
    [b_planned, *_] = [
        e["timestamp"]
        for e in turns.history(b.arn)
        if e.get("stateEnteredEventDetails", {}).get("name") == "PlanDeployment"
    ]
    assert b_planned >= a_ended
    # so the endpoint ends on the newest approved version, the champion, and nothing failed.
    assert live_version(turns) == second
    assert (lock(turns)["status"], lock(turns)["holder"]) == ("RELEASED", b.arn)
    assert not [m for m in turns.notifications([a, b]) if m["body"]["outcome"] == "FAILED"]


def test_an_older_approval_arriving_after_a_newer_one_ends_superseded(turns):
    # Given an older version waiting for approval (which starts no workflow), and a newer one
    # approved and live
    older = version_of(
        register_version(turns.twin, package_arn(turns, TRAINED), status="PendingManualApproval")
    )
    newer, _ = deploy_good(turns)
    config = live_config(turns)
    # When the older one is approved late
    before = set(turns.watcher.executions)
    turns.client("sagemaker").update_model_package(
        ModelPackageArn=package_arn(turns, older), ModelApprovalStatus="Approved"
    )
    turns.settle(before)
    # Then its deployment ends Superseded, says by which version, and the endpoint is untouched
    run = deploy_run(turns, older)
    entered = turns.states_entered(run.arn)
    assert (run.status, entered[-2:]) == ("SUCCEEDED", ["NotifySuperseded", "Superseded"])
    assert "CreateModel" not in entered
    [message] = [m["body"] for m in turns.notifications([run])]
    assert message["outcome"] == "SUPERSEDED"
    assert message["plan"]["champion"]["version"] == newer
    assert f"superseded by version {newer}" in message["plan"]["reason"]
    assert live_config(turns) == config


def test_a_tampered_model_artifact_ends_model_provenance_invalid_with_nothing_deployed(turns):
    # Given the trained model's artifact in S3 is replaced after its registration
    sagemaker, s3 = turns.client("sagemaker"), turns.client("s3")
    url = approval(turns, TRAINED)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, _, key = url.removeprefix("s3://").partition("/")
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    config, models = live_config(turns), len(sagemaker.list_models()["Models"])
    s3.put_object(Bucket=bucket, Key=key, Body=original + b"tampered")
    try:
        # When a version of that model is approved
        before = set(turns.watcher.executions)
        tampered = version_of(register_version(turns.twin, package_arn(turns, TRAINED)))
        turns.settle(before)
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original)
    # Then its deployment fails by name before anything is created, and the endpoint is as it was
    run = deploy_run(turns, tampered)
    assert (run.status, run.error) == ("FAILED", "ModelProvenanceInvalid")
    assert f"model data {url} has SHA-256 " in run.cause
    entered = turns.states_entered(run.arn)
    assert entered[-3:] == ["PlanDeployment", "NotifyFailure", "Failed"]
    assert (live_config(turns), len(sagemaker.list_models()["Models"])) == (config, models)
    # and the version is rejected, so the champion is again the version that serves
    rejected = approval(turns, tampered)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["ApprovalDescription"].startswith(f"version {tampered} fails provenance")
    [failure] = [m["body"] for m in turns.notifications([run])]
    assert (failure["outcome"], failure["error"]) == ("FAILED", "ModelProvenanceInvalid")


def rollbacks(h: Any, before: set[str]) -> list[Any]:
    return [
        v
        for arn, v in h.watcher.executions.items()
        if arn not in before and v.workflow == "RollbackPipeline"
    ]


def alarm_state(h: Any) -> str:
    name = h.twin.outputs["EndpointErrorAlarmName"]
    return h.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
        "StateValue"
    ]


def test_an_alarm_entering_alarm_again_does_not_roll_the_same_live_config_back_twice(
    turns, tmp_path
):
    # Given a version with a latent fault live, and no older approved version to go back to
    latent = publish_faulty_code(turns.twin, "latent", tmp_path, healthy_calls=3)
    before = set(turns.watcher.executions)
    faulty = version_of(register_version(turns.twin, package_arn(turns, TRAINED), latent))
    turns.settle(before)
    assert live_version(turns) == faulty
    before = set(turns.watcher.executions)
    for summary in turns.model_packages():
        if summary["ModelPackageVersion"] < faulty and summary["ModelApprovalStatus"] == (
            "Approved"
        ):
            turns.client("sagemaker").update_model_package(
                ModelPackageArn=summary["ModelPackageArn"], ModelApprovalStatus="Rejected"
            )
    turns.settle(before)
    config = live_config(turns)
    body = sample_rows(turns.dataset(), 1)[0].encode()
    # When traffic makes the error alarm enter ALARM, which rolls back to nothing,
    before = set(turns.watcher.executions)
    traffic = TrafficClient(turns.twin, body).start()
    turns.wait_for(lambda w: any(v.status != "RUNNING" for v in rollbacks(turns, before)), 90)
    traffic.stop()
    turns.settle(before)
    [first] = [v for v in rollbacks(turns, before) if v.status == "FAILED"]
    assert first.error == "NothingToRollBack"
    # and, the traffic gone and back, the alarm leaves ALARM and enters it again,
    turns.wait_for(lambda w: alarm_state(turns) == "OK", 60)
    again = set(turns.watcher.executions)
    traffic = TrafficClient(turns.twin, body).start()
    turns.wait_for(lambda w: any(v.status != "RUNNING" for v in rollbacks(turns, again)), 90)
    traffic.stop()
    turns.settle(before)
    # then no second rollback runs for the same live config: each says which execution answered.
    later = [v for v in rollbacks(turns, before) if v is not first]
    assert rollbacks(turns, again), "entering ALARM again started the RollbackPipeline"
    assert all(v.status == "SUCCEEDED" for v in later)
    assert {turns.states_entered(v.arn)[-1] for v in later} == {"NotNeeded"}
    for message in turns.notifications(later):
        assert message["body"]["outcome"] == "SKIPPED"
        assert (
            f"execution {first.name} already answered this alarm for {config}"
            in (message["body"]["plan"]["reason"])
        )
    assert live_config(turns) == config
    # Back to a good champion for whichever test runs next (once the alarm is OK, or the
    # guardrails would roll it back); the faulty version leaves the pool.
    turns.wait_for(lambda w: alarm_state(turns) == "OK", 60)
    deploy_good(turns)
    before = set(turns.watcher.executions)
    turns.client("sagemaker").update_model_package(
        ModelPackageArn=package_arn(turns, faulty), ModelApprovalStatus="Rejected"
    )
    turns.settle(before)
