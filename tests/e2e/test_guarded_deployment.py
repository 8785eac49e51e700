"""Guarded deployment and rollback, in the twin, as one production story on one stack:

v1 trained and live -> a faulty v2 canary under traffic is rolled back by guardrails -> a good
v3 passes the canary and goes live -> rejecting v3 rolls production back to v1 -> an operator
asks for a rollback with nothing older to go to -> a v4 with a latent fault goes live and its
regression alarm rolls it back -> a good v5 goes live and an operator rolls it back.

Tests run in file order and each checks its own starting point, so a failure names the step.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import (
    TrafficClient,
    TrafficReport,
    publish_faulty_code,
    register_version,
)

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def live_version(h: Any) -> int:
    config = h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])[
        "EndpointConfigName"
    ]
    return int(config.rsplit("-v", 1)[1].split("-")[0])


def package_arn(h: Any, version: int) -> str:
    return next(
        p["ModelPackageArn"] for p in h.model_packages() if p["ModelPackageVersion"] == version
    )


def approval(h: Any, version: int) -> dict:
    return h.client("sagemaker").describe_model_package(ModelPackageName=package_arn(h, version))


def settle(h: Any, before: set, timeout: float = 120) -> list:
    """Waits for every execution started after `before` (and those they trigger) to end."""
    h.wait_for(lambda w: set(w.executions) - before and not w.running(), timeout)
    time.sleep(1.5)  # events of the last outcome (rejections, alarms) start further runs
    h.wait_for(lambda w: not w.running(), timeout)
    return [v for arn, v in h.watcher.executions.items() if arn not in before]


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
    assert live_version(story) == 1
    faulty = publish_faulty_code(story.twin, "faulty", tmp_path)
    traffic = TrafficClient(story.twin, rows(story)).start()
    before = set(story.watcher.executions)
    register_version(story.twin, package_arn(story, 1), faulty)
    runs = settle(story, before)
    time.sleep(1.0)  # traffic after the rollback
    result = traffic.stop()

    (deploy,) = [v for v in runs if v.workflow == "DeployPipeline"]
    assert deploy.status == "FAILED" and deploy.error == "DeploymentRolledBack"
    assert live_version(story) == 1
    v2 = approval(story, 2)
    assert v2["ModelApprovalStatus"] == "Rejected"
    assert "went to ALARM while baking" in v2["ApprovalDescription"]
    # Errors came only while the canary took traffic; every request after the rollback worked.
    started = result.when(lambda status, _config: status == "Updating")
    back, config = next(
        (t, c) for t, status, c in result.timeline if t > started and status == "InService"
    )
    assert "-v1-" in config
    assert result.errors >= 1 and result.first_error >= started
    assert result.last_error <= back + 0.5  # the last in-flight canary answer
    assert result.sent > result.errors * 5
    failures = [m["body"] for m in story.notifications() if m["body"]["outcome"] == "FAILED"]
    assert any(f["error"] == "DeploymentRolledBack" for f in failures)
    # The rejection and the alarm also reached the RollbackPipeline, which found nothing to do.
    rollbacks = [v for v in runs if v.workflow == "RollbackPipeline"]
    assert rollbacks and all(story.states_entered(v.arn)[-1] == "NotNeeded" for v in rollbacks)
    report("faulty canary", result, started, back)


def test_good_canary_passes_every_step_and_the_old_fleet_is_gone(story):
    assert live_version(story) == 1
    before = set(story.watcher.executions)
    register_version(story.twin, package_arn(story, 1))  # v3: the same good model
    runs = settle(story, before)
    (deploy,) = [v for v in runs if v.workflow == "DeployPipeline"]
    assert deploy.status == "SUCCEEDED"
    assert live_version(story) == 3
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
    assert live_version(story) == 3
    before = set(story.watcher.executions)
    story.client("sagemaker").update_model_package(
        ModelPackageArn=package_arn(story, 3),
        ModelApprovalStatus="Rejected",
        ApprovalDescription="customer complaints about v3",
    )
    runs = settle(story, before)
    (rollback,) = [v for v in runs if v.workflow == "RollbackPipeline"]
    assert rollback.status == "SUCCEEDED"
    assert story.states_entered(rollback.arn)[-1] == "RolledBack"
    assert live_version(story) == 1  # v2 is Rejected, so v1 is the last known-good
    entry = audit(story)[-1]
    assert (entry["trigger"], entry["from_version"], entry["to_version"]) == (
        "rejected-package",
        "3",
        "1",
    )
    outcomes = {m["body"]["outcome"] for m in story.notifications()}
    assert "ROLLED_BACK" in outcomes


def test_rollback_with_nothing_older_ends_named_and_keeps_the_model(story):
    assert live_version(story) == 1
    sfn = story.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=story.twin.outputs["RollbackPipelineArn"],
        input=json.dumps({"operator": {"requested_by": "alice", "reason": "drill"}}),
    )["executionArn"]
    story.wait_for(lambda w: arn in w.executions and not w.running(), 60)
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED" and described["error"] == "NothingToRollBack"
    assert "keeps serving it" in described["cause"]
    endpoint = story.client("sagemaker").describe_endpoint(
        EndpointName=story.twin.outputs["EndpointName"]
    )
    assert endpoint["EndpointStatus"] == "InService" and live_version(story) == 1
    assert "NOTHING_TO_ROLL_BACK" in {m["body"]["outcome"] for m in story.notifications()}


def test_regression_alarm_after_a_finished_deployment_rolls_back(story, tmp_path):
    assert live_version(story) == 1
    # A latent fault: healthy through the quiet rollout and the smoke test, faulty under load.
    latent = publish_faulty_code(story.twin, "latent", tmp_path, healthy_calls=3)
    before = set(story.watcher.executions)
    register_version(story.twin, package_arn(story, 1), latent)  # v4
    settle(story, before)
    assert live_version(story) == 4
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
    assert live_version(story) == 1
    assert approval(story, 4)["ModelApprovalStatus"] == "Rejected"
    entry = audit(story)[-1]
    assert entry["trigger"] == "alarm" and entry["from_version"] == "4"
    assert entry["requested_by"].startswith("alarm ")
    report("regression alarm", result, 0.0, result.last_error)


def test_operator_rollback_returns_to_the_previous_good_version(story):
    assert live_version(story) == 1
    before = set(story.watcher.executions)
    register_version(story.twin, package_arn(story, 1))  # v5, good
    settle(story, before)
    assert live_version(story) == 5
    before = set(story.watcher.executions)
    story.client("stepfunctions").start_execution(
        stateMachineArn=story.twin.outputs["RollbackPipelineArn"],
        input=json.dumps({"operator": {"requested_by": "alice", "reason": "latency report"}}),
    )
    ends = sorted(
        story.states_entered(v.arn)[-1]
        for v in settle(story, before)
        if v.workflow == "RollbackPipeline"
    )
    # The operator's run rolls back; rejecting v5 afterwards starts a second run that finds
    # v5 no longer live.
    assert ends == ["NotNeeded", "RolledBack"]
    assert live_version(story) == 1
    entry = audit(story)[-1]
    assert (
        entry["trigger"],
        entry["requested_by"],
        entry["from_version"],
        entry["to_version"],
    ) == ("operator", "alice", "5", "1")
    assert "latency report" in entry["why"]
