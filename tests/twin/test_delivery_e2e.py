"""End to end in the twin: a small delivery pipeline provisioned from a CloudFormation
template, a real `git push` to the connected repository, CodeBuild testing the pushed commit,
a manual approval answered through PutApprovalResult."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery_world import Clone, processes_with, wait_for

from mlops.twin.cloud import LocalCloud
from mlops.twin.cloudformation.provision import Provisioner

TEMPLATE = Path(__file__).parent / "fixtures" / "delivery" / "tiny_pipeline.yaml"
REPOSITORY = "acme/tiny"


@pytest.fixture(scope="module")
def delivery(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory):
    cloud = local_cloud
    stack = Provisioner(
        cloud.client, cloud.runtime, TEMPLATE.parent, cloud.account, cloud.region
    ).deploy("tiny-delivery", TEMPLATE, {"RepositoryId": REPOSITORY})
    bare = cloud.delivery.repositories.create(REPOSITORY, stack.outputs["ConnectionArn"])
    clone = Clone(tmp_path_factory.mktemp("tiny") / "work", bare.path)
    clone.path.mkdir()
    clone.git("init", "-q", "-b", "main")
    clone.git("remote", "add", "origin", str(bare.path))
    return cloud, stack.outputs["PipelineName"], clone


def executions(cloud: LocalCloud, name: str) -> list[dict]:
    return cloud.client("codepipeline").list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"
    ]


def test_the_provisioned_pipeline_started_once_at_creation_and_failed_on_the_empty_repository(
    delivery,
):
    cloud, name, _ = delivery
    [created] = executions(cloud, name)
    cloud.delivery.pipelines.wait(name, created["pipelineExecutionId"], 30)
    assert created["trigger"]["triggerType"] == "CreatePipeline"
    assert (
        cloud.client("codepipeline").get_pipeline_execution(
            pipelineName=name, pipelineExecutionId=created["pipelineExecutionId"]
        )["pipelineExecution"]["status"]
        == "Failed"
    )


def test_a_push_is_tested_then_waits_for_approval_and_succeeds_once_approved(delivery):
    cloud, name, clone = delivery
    commit = clone.commit({"app.py": "def answer():\n    return 42\n"}, "the answer")
    clone.push()
    execution = executions(cloud, name)[0]["pipelineExecutionId"]
    codepipeline = cloud.client("codepipeline")

    def waiting_token():
        release = codepipeline.get_pipeline_state(name=name)["stageStates"][2]
        return release["actionStates"][0].get("latestExecution", {}).get("token")

    token = wait_for(waiting_token, what="the approval")
    state = codepipeline.get_pipeline_state(name=name)["stageStates"]
    assert [s["latestExecution"]["status"] for s in state] == [
        "Succeeded",
        "Succeeded",
        "InProgress",
    ]
    summary = state[2]["actionStates"][0]["latestExecution"]["summary"]
    assert summary == f"Tested {commit}: the answer"
    codepipeline.put_approval_result(
        pipelineName=name,
        stageName="Release",
        actionName="Approve",
        token=token,
        result={"status": "Approved", "summary": "ship it"},
    )
    assert cloud.delivery.pipelines.wait(name, execution, 60) == "Succeeded"
    revisions = codepipeline.get_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution
    )["pipelineExecution"]["artifactRevisions"]
    assert [r["revisionId"] for r in revisions] == [commit]


def test_a_push_that_touches_only_docs_starts_nothing(delivery):
    cloud, name, clone = delivery
    before = len(executions(cloud, name))
    clone.commit({"README.md": "# Tiny\n", "lib/NOTES.md": "notes"}, "docs only")
    output = clone.push()
    assert "nothing starts" in output
    assert len(executions(cloud, name)) == before


def test_a_commit_that_breaks_the_test_fails_the_test_stage_and_never_reaches_approval(delivery):
    cloud, name, clone = delivery
    clone.commit({"app.py": "def answer():\n    return 41\n"}, "off by one")
    clone.push()
    execution = executions(cloud, name)[0]["pipelineExecutionId"]
    assert cloud.delivery.pipelines.wait(name, execution, 60) == "Failed"
    details = cloud.client("codepipeline").list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    assert {d["actionName"]: d["status"] for d in details} == {
        "Source": "Succeeded",
        "UnitTests": "Failed",
    }
    build_id = next(d for d in details if d["actionName"] == "UnitTests")["output"][
        "executionResult"
    ]["externalExecutionId"]
    build = cloud.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    log = cloud.client("logs").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )
    assert any("AssertionError: 41" in e["message"] for e in log["events"])
    assert processes_with(build_id) == []
