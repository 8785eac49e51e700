"""Guarded deployment and rollback, in the twin, on one stack deploying with CANARY 25 %:

a faulty canary under traffic is rolled back by guardrails; a good canary passes and goes live;
rejecting the live version rolls production back to the last known-good one; an operator asks
for a rollback with nothing older to go to; a version with a latent fault goes live and its
regression alarm rolls it back; an operator rolls a good version back.

Each test starts from whatever version is live (always an approved, good one: every test ends
there) and makes the versions it needs, so the tests pass in any order.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from endpoint_versions import (
    TRAINED,
    approval,
    deploy_good,
    live_version,
    package_arn,
    version_of,
)

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import (
    TrafficClient,
    TrafficReport,
    publish_faulty_code,
    register_version,
)

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def rows(h: Any) -> bytes:
    return sample_rows(h.dataset(), 1)[0].encode()


def audit(h: Any) -> list[dict]:
    table = h.client("dynamodb")
    items = table.query(
        TableName=h.twin.outputs["LedgerTableName"],
        KeyConditionExpression="pk = :k AND begins_with(sk, :p)",
        ExpressionAttributeValues={
            ":k": {"S": f"rollback#{h.twin.outputs['EndpointName']}"},
            ":p": {"S": "at#"},
        },
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def report(label: str, traffic: TrafficReport, started: float | None, back: float | None):
    print(
        f"\n{label}: sent {traffic.sent} requests, {traffic.errors} errors; "
        f"deployment start -> rollback {(back or 0) - (started or 0):.1f} s"
    )


def test_faulty_canary_under_traffic_is_rolled_back_by_guardrails(story, tmp_path):
    live = live_version(story)
    faulty = publish_faulty_code(story.twin, "faulty", tmp_path)
    traffic = TrafficClient(story.twin, rows(story)).start()
    before = set(story.watcher.executions)
    candidate = version_of(register_version(story.twin, package_arn(story, TRAINED), faulty))
    runs = story.settle(before)
    time.sleep(1.0)  # traffic after the rollback
    result = traffic.stop()

    (deploy,) = [v for v in runs if v.workflow == "DeployPipeline"]
    story.assert_status(deploy, "FAILED", error="DeploymentRolledBack")
    assert live_version(story) == live
    rejected = approval(story, candidate)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert "went to ALARM while baking" in rejected["ApprovalDescription"]
    # Errors came only while the canary took traffic; every request after the rollback worked.
    started = result.when(lambda status, _config: status == "Updating")
    back, config = next(
        (t, c) for t, status, c in result.timeline if t > started and status == "InService"
    )
    assert f"-v{live}-" in config
    assert result.errors >= 1 and result.first_error >= started
    assert result.last_error <= back + 0.5  # the last in-flight canary answer
    assert result.sent > result.errors * 5
    failures = [m["body"] for m in story.notifications(runs) if m["body"]["outcome"] == "FAILED"]
    assert any(f["error"] == "DeploymentRolledBack" for f in failures)
    # The rejection and the alarm also reached the RollbackPipeline, which found nothing to do.
    rollbacks = [v for v in runs if v.workflow == "RollbackPipeline"]
    assert rollbacks and all(story.states_entered(v.arn)[-1] == "NotNeeded" for v in rollbacks)
    report("faulty canary", result, started, back)


def test_good_canary_passes_every_step_and_the_old_fleet_is_gone(story):
    _, runs = deploy_good(story)
    (deploy,) = [v for v in runs if v.workflow == "DeployPipeline"]
    story.assert_status(deploy, "SUCCEEDED")
    endpoint = story.client("sagemaker").describe_endpoint(
        EndpointName=story.twin.outputs["EndpointName"]
    )
    routing = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "CANARY" and routing["CanarySize"]["Value"] == 25
    servers = story.twin.cloud.hosting.servers(story.twin.outputs["EndpointName"])
    assert len(servers) == 1, "blue was terminated after the final bake"


def test_rejecting_the_live_version_rolls_back_to_the_last_known_good(story):
    previous = live_version(story)
    # A version between the two that is not approved: the rollback must pass over it.
    before = set(story.watcher.executions)
    register_version(story.twin, package_arn(story, TRAINED), status="Rejected")
    story.settle(before)
    live, _ = deploy_good(story)
    before = set(story.watcher.executions)
    story.client("sagemaker").update_model_package(
        ModelPackageArn=package_arn(story, live),
        ModelApprovalStatus="Rejected",
        ApprovalDescription=f"customer complaints about v{live}",
    )
    runs = story.settle(before)
    (rollback,) = [v for v in runs if v.workflow == "RollbackPipeline"]
    story.assert_status(rollback, "SUCCEEDED")
    assert story.states_entered(rollback.arn)[-1] == "RolledBack", story.why(rollback)
    assert live_version(story) == previous
    entry = audit(story)[-1]
    assert (entry["trigger"], entry["from_version"], entry["to_version"]) == (
        "rejected-package",
        str(live),
        str(previous),
    )
    assert "ROLLED_BACK" in {m["body"]["outcome"] for m in story.notifications(runs)}


def test_rollback_with_nothing_older_ends_named_and_keeps_the_model(story):
    live = live_version(story)
    sagemaker = story.client("sagemaker")
    older = [
        p["ModelPackageArn"]
        for p in sagemaker.list_model_packages(
            ModelPackageGroupName=story.twin.outputs["ModelPackageGroupName"],
            ModelApprovalStatus="Approved",
        )["ModelPackageSummaryList"]
        if p["ModelPackageVersion"] < live
    ]
    if older:  # retire them; each rejection finds its version not live and changes nothing
        before = set(story.watcher.executions)
        for arn in older:
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
        story.settle(before)
    assert live_version(story) == live
    sfn = story.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=story.twin.outputs["RollbackPipelineArn"],
        input=json.dumps({"operator": {"requested_by": "alice", "reason": "drill"}}),
    )["executionArn"]
    story.wait_for(lambda w: arn in w.executions and not w.running(), 60)
    story.assert_status(arn, "FAILED", error="NothingToRollBack")
    described = sfn.describe_execution(executionArn=arn)
    assert "keeps serving it" in described["cause"]
    endpoint = sagemaker.describe_endpoint(EndpointName=story.twin.outputs["EndpointName"])
    assert endpoint["EndpointStatus"] == "InService" and live_version(story) == live
    assert "NOTHING_TO_ROLL_BACK" in {m["body"]["outcome"] for m in story.notifications([arn])}


def test_regression_alarm_after_a_finished_deployment_rolls_back(story, tmp_path):
    previous = live_version(story)
    # A latent fault: healthy through the quiet rollout and the smoke test, faulty under load.
    latent = publish_faulty_code(story.twin, "latent", tmp_path, healthy_calls=3)
    before = set(story.watcher.executions)
    live = version_of(register_version(story.twin, package_arn(story, TRAINED), latent))
    story.settle(before)
    assert live_version(story) == live
    before = set(story.watcher.executions)
    traffic = TrafficClient(story.twin, rows(story)).start()
    story.wait_for(
        lambda w: any(
            v.workflow == "RollbackPipeline" and story.states_entered(v.arn)[-1:] == ["RolledBack"]
            for arn, v in w.executions.items()
            if arn not in before
        ),
        90,
    )
    result = traffic.stop()
    assert live_version(story) == previous
    assert approval(story, live)["ModelApprovalStatus"] == "Rejected"
    entry = audit(story)[-1]
    assert entry["trigger"] == "alarm" and entry["from_version"] == str(live)
    assert entry["requested_by"].startswith("alarm ")
    story.settle(before)  # the rejection's own RollbackPipeline run, before the next test
    report("regression alarm", result, 0.0, result.last_error)


def test_operator_rollback_returns_to_the_previous_good_version(story):
    previous = live_version(story)
    live, _ = deploy_good(story)
    before = set(story.watcher.executions)
    story.client("stepfunctions").start_execution(
        stateMachineArn=story.twin.outputs["RollbackPipelineArn"],
        input=json.dumps({"operator": {"requested_by": "alice", "reason": "latency report"}}),
    )
    ends = sorted(
        story.states_entered(v.arn)[-1]
        for v in story.settle(before)
        if v.workflow == "RollbackPipeline"
    )
    # The operator's run rolls back; rejecting the rolled-back version afterwards starts a
    # second run that finds it no longer live.
    assert ends == ["NotNeeded", "RolledBack"]
    assert live_version(story) == previous
    entry = audit(story)[-1]
    assert (
        entry["trigger"],
        entry["requested_by"],
        entry["from_version"],
        entry["to_version"],
    ) == ("operator", "alice", str(live), str(previous))
    assert "latency report" in entry["why"]
