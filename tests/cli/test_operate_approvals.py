"""An operator decides with `mlops` on a stack that waits for people (AutoApprove=false), in the
twin: approve a pending version and see it deployed, reject the live one and see the rollback,
and find every decision in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_twin import Operated, operated

from mlops.demo.scenarios import register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

OPERATOR = "arn:aws:sts::123456789012:user/moto"  # moto's GetCallerIdentity


@pytest.fixture(scope="module")
def pending() -> Iterator[Operated]:
    # All at once, with room for a busy machine: the story is about decisions, not rollouts.
    with operated(
        AutoApprove="false", DeploymentStrategy="ALL_AT_ONCE", MaxExecutionTimeoutSeconds="3600"
    ) as stack:
        yield stack


def test_approve_deploys_a_pending_version_and_rejecting_the_live_one_rolls_back(pending, mlops):
    sagemaker = pending.twin.client("sagemaker")
    # Given v1 registered and waiting for approval, nothing deployed (as status says),
    status = mlops("status", "--json", *pending.target)
    assert status.code == 0, status
    assert status.json["endpoint"] is None and status.json["champion_version"] is None
    assert [v["version"] for v in status.json["pending_approval"]] == [1]
    assert status.json["workflows"]["training"]["outcome"] == "Registered"
    assert status.json["workflows"]["deploy"] is None
    human = mlops("status", *pending.target).out
    assert "Endpoint  not created yet" in human and "Waiting for approval: v1 (f1=" in human
    # when the operator approves it and waits,
    approved = mlops("approve", "1", "--note", "reviewed the report", "--wait", *pending.target)
    # then the DeployPipeline it started deploys it, followed state by state,
    assert approved.code == 0, approved
    assert "  Deploy   SmokeTest" in approved.out
    assert "DeployPipeline" in approved.out and "ended Deployed" in approved.out
    (v1,) = mlops("versions", "--json", *pending.target).json
    assert (v1["status"], v1["live"], v1["champion"]) == ("Approved", True, True)
    assert v1["approval_description"] == f"approved by {OPERATOR}: reviewed the report"
    # Given a v2 registered for review and approved, live in turn,
    register_version(pending.twin, v1["arn"], status="PendingManualApproval", note="operator's v2")
    second = mlops("approve", "2", "--wait", *pending.target)
    assert second.code == 0, second
    assert mlops("status", "--json", *pending.target).json["endpoint"]["live_version"] == 2
    # when the operator rejects the live v2 and waits,
    rejected = mlops("reject", "2", "--reason", "latency complaints", "--wait", *pending.target)
    # then the RollbackPipeline returns production to v1.
    assert rejected.code == 0, rejected
    assert "ended RolledBack" in rejected.out
    endpoint = sagemaker.describe_endpoint(EndpointName=pending.twin.outputs["EndpointName"])
    assert "-v1-" in endpoint["EndpointConfigName"]
    versions = {v["version"]: v for v in mlops("versions", "--json", *pending.target).json}
    assert versions[2]["status"] == "Rejected" and versions[1]["live"] is True
    # The audit trail names every decision: three approvals (who, what) and the rollback.
    audit = mlops("audit", "--json", *pending.target).json
    decisions = [(e["kind"], e["what"], e["who"], e["why"]) for e in reversed(audit)]
    assert decisions == [
        ("approval", "v1 PendingManualApproval -> Approved", OPERATOR, "reviewed the report"),
        ("approval", "v2 PendingManualApproval -> Approved", OPERATOR, "approved with mlops"),
        ("approval", "v2 Approved -> Rejected", OPERATOR, "latency complaints"),
        ("rollback", "v2 -> v1", "model registry", decisions[3][3]),
    ]
    assert "rolling back from version 2 to 1" in decisions[3][3]


def test_a_rollback_with_no_older_approved_version_is_refused_with_exit_code_5(pending, mlops):
    # Given no version older than the live one (or nothing live yet) is approved,
    live = mlops("status", "--json", *pending.target).json["endpoint"]
    older = [
        v
        for v in mlops("versions", "--json", *pending.target).json
        if v["status"] == "Approved" and live and v["version"] < live["live_version"]
    ]
    assert not older  # nothing in this module approves an older version than the live one
    # when an operator asks for a rollback,
    result = mlops("rollback", "--reason", "checking the runbook", *pending.target)
    # then the RollbackPipeline says so, and so does the exit code.
    assert result.code == 5, result
    assert "RollbackPipeline" in result.out
    if live:
        assert result.err.startswith("mlops: nothing to roll back: checking the runbook;")
    else:
        assert "does not exist: nothing is live" in result.err
