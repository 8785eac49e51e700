"""Controlling executions in the twin: execution modes (QUEUED, SUPERSEDED), manual approvals
(PutApprovalResult, the SNS notification), StopPipelineExecution (stop and wait, abandon) and
RetryStageExecution (FAILED_ACTIONS, ALL_ACTIONS), with the API's errors ("How pipeline
executions work", "Manage approval actions", "Stop a pipeline execution", "Retry a failed
stage", CodePipeline user guide)."""

from __future__ import annotations

import json
import uuid

import pytest
from delivery_world import DeliveryWorld, approval_action, build_action, source_action, wait_for

from mlops.twin.cloud import LocalCloud


@pytest.fixture(scope="module")
def world(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> DeliveryWorld:
    return DeliveryWorld(local_cloud, tmp_path_factory.mktemp("control"))


@pytest.fixture(scope="module")
def codepipeline(world: DeliveryWorld):
    return world.cloud.client("codepipeline")


def pipeline(world: DeliveryWorld, stages: list[dict], **settings):
    """(name, clone) of a pipeline whose first stage is a Source on a fresh repository."""
    repository_id, clone = world.clone()
    source = {"name": "Source", "actions": [source_action(world, repository_id)]}
    return world.pipeline([source, *stages], **settings), clone


def push_execution(world: DeliveryWorld, name: str, clone, label: str) -> str:
    clone.commit({f"{label}.txt": label}, label)
    clone.push()
    return world.latest(name)["pipelineExecutionId"]


def sleeper(world: DeliveryWorld, seconds: float) -> str:
    return world.project(
        "version: 0.2\nenv:\n  exported-variables: [STARTED, ENDED]\nphases:\n  build:\n"
        f"    commands: ['export STARTED=$(date +%s.%N)', 'sleep {seconds}',"
        " 'export ENDED=$(date +%s.%N)']\n"
    )


# -- execution modes ------------------------------------------------------------------------------


def test_queued_executions_take_each_stage_one_at_a_time_in_push_order(world):
    name, clone = pipeline(
        world,
        [{"name": "Build", "actions": [build_action("Build", sleeper(world, 1.0))]}],
        executionMode="QUEUED",
    )
    first = push_execution(world, name, clone, "one")
    second = push_execution(world, name, clone, "two")
    assert world.wait(name, first) == "Succeeded"
    assert world.wait(name, second) == "Succeeded"
    builds = [world.actions(name, e)["Build"]["output"]["outputVariables"] for e in (first, second)]
    assert float(builds[1]["STARTED"]) >= float(builds[0]["ENDED"]), "the builds interleaved"


def test_a_queued_execution_waits_at_a_stage_held_by_an_earlier_one(world, codepipeline):
    name, clone = pipeline(
        world, [{"name": "Release", "actions": [approval_action(world)]}], executionMode="QUEUED"
    )
    first = push_execution(world, name, clone, "first")
    token = world.approval_token(name, "Release", "Approve")
    second = push_execution(world, name, clone, "second")

    def inbound():
        stage = codepipeline.get_pipeline_state(name=name)["stageStates"][1]
        return stage.get("inboundExecution")

    waiting = wait_for(inbound, what="the second execution at the Release entry")
    assert waiting["pipelineExecutionId"] == second and waiting["status"] == "InProgress"
    codepipeline.put_approval_result(
        pipelineName=name,
        stageName="Release",
        actionName="Approve",
        token=token,
        result={"status": "Approved", "summary": "first is fine"},
    )
    assert world.wait(name, first) == "Succeeded"
    second_token = world.approval_token(name, "Release", "Approve")
    assert second_token != token
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=second, abandon=True
    )
    assert world.wait(name, second) == "Stopped"


def test_in_superseded_mode_a_newer_execution_replaces_an_older_waiting_one(world, codepipeline):
    name, clone = pipeline(world, [{"name": "Release", "actions": [approval_action(world)]}])
    first = push_execution(world, name, clone, "first")
    world.approval_token(name, "Release", "Approve")
    second = push_execution(world, name, clone, "second")
    wait_for(lambda: world.cloud.delivery.pipelines.waiting(name, "Release"), what="a waiter")
    third = push_execution(world, name, clone, "third")
    assert world.wait(name, second, timeout=30) == "Superseded"
    events = wait_for(lambda: world.received_events(second), what="events of the second")
    assert events[-1] == (
        "CodePipeline Pipeline Execution State Change",
        events[-1][1] | {"state": "SUPERSEDED"},
    )
    for execution in (first, third):
        world.approval_token(name, "Release", "Approve")
        codepipeline.stop_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution, abandon=True
        )
        assert world.wait(name, execution) == "Stopped"


# -- approvals ----------------------------------------------------------------------------------


def test_an_approved_action_succeeds_with_the_reviewers_summary(world, codepipeline):
    name, clone = pipeline(world, [{"name": "Release", "actions": [approval_action(world)]}])
    execution = push_execution(world, name, clone, "approve")
    token = world.approval_token(name, "Release", "Approve")
    answer = codepipeline.put_approval_result(
        pipelineName=name,
        stageName="Release",
        actionName="Approve",
        token=token,
        result={"status": "Approved", "summary": "staging figures look right"},
    )
    assert "approvedAt" in answer
    assert world.wait(name, execution) == "Succeeded"
    approval = world.actions(name, execution)["Approve"]
    assert approval["status"] == "Succeeded"
    assert approval["output"]["executionResult"]["externalExecutionSummary"] == (
        "staging figures look right"
    )
    assert approval["updatedBy"] == world.cloud.delivery.caller
    with pytest.raises(codepipeline.exceptions.ApprovalAlreadyCompletedException):
        codepipeline.put_approval_result(
            pipelineName=name,
            stageName="Release",
            actionName="Approve",
            token=token,
            result={"status": "Rejected", "summary": "too late"},
        )


def test_a_rejected_approval_fails_the_execution_and_nothing_after_it_runs(world, codepipeline):
    after = sleeper(world, 0)
    name, clone = pipeline(
        world,
        [
            {"name": "Release", "actions": [approval_action(world)]},
            {"name": "Prod", "actions": [build_action("Deploy", after)]},
        ],
    )
    execution = push_execution(world, name, clone, "reject")
    token = world.approval_token(name, "Release", "Approve")
    codepipeline.put_approval_result(
        pipelineName=name,
        stageName="Release",
        actionName="Approve",
        token=token,
        result={"status": "Rejected", "summary": "not this one"},
    )
    assert world.wait(name, execution) == "Failed"
    actions = world.actions(name, execution)
    assert "Deploy" not in actions
    result = actions["Approve"]["output"]["executionResult"]
    assert result["errorDetails"]["message"] == (
        f"Rejected by {world.cloud.delivery.caller}: not this one"
    )


def test_answers_to_unknown_tokens_stages_and_actions_are_refused(world, codepipeline):
    name, clone = pipeline(world, [{"name": "Release", "actions": [approval_action(world)]}])
    execution = push_execution(world, name, clone, "errors")
    token = world.approval_token(name, "Release", "Approve")
    answer = {"status": "Approved", "summary": "x"}
    for error, stage, action, given in (
        ("InvalidApprovalTokenException", "Release", "Approve", str(uuid.uuid4())),
        ("StageNotFoundException", "Nope", "Approve", token),
        ("ActionNotFoundException", "Release", "Nope", token),
    ):
        with pytest.raises(getattr(codepipeline.exceptions, error)):
            codepipeline.put_approval_result(
                pipelineName=name, stageName=stage, actionName=action, token=given, result=answer
            )
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, abandon=True
    )
    assert world.wait(name, execution) == "Stopped"


def test_the_approval_notification_carries_the_token_links_and_custom_data(world, codepipeline):
    sqs, sns = world.cloud.client("sqs"), world.cloud.client("sns")
    queue = sqs.create_queue(QueueName=f"approvals-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=world.topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    stage = {
        "name": "Release",
        "actions": [approval_action(world, CustomData="Commit #{SourceVariables.CommitId}")],
    }
    name, clone = pipeline(world, [stage])
    commit_message = "notify me"
    clone.commit({"n.txt": "n"}, commit_message)
    clone.push()
    execution = world.latest(name)["pipelineExecutionId"]
    token = world.approval_token(name, "Release", "Approve")
    commit = world.actions(name, execution)["Source"]["output"]["outputVariables"]["CommitId"]

    def notification():
        for message in sqs.receive_message(QueueUrl=queue).get("Messages", []):
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            if body["approval"]["pipelineName"] == name:
                return envelope, body
        return None

    envelope, body = wait_for(notification, what="the approval notification")
    assert envelope["Subject"] == f"APPROVAL NEEDED: AWS CodePipeline {name} for action Approve"
    approval = body["approval"]
    assert approval["token"] == token and approval["stageName"] == "Release"
    assert approval["customData"] == f"Commit {commit}"
    assert approval["approvalReviewLink"].endswith(f"/Release/Approve/approve/{token}")
    assert body["region"] == world.cloud.region and "consoleLink" in body
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, abandon=True
    )
    assert world.wait(name, execution) == "Stopped"


# -- stop ------------------------------------------------------------------------------------------


def test_stop_and_wait_lets_the_running_action_finish_then_stops(world, codepipeline):
    name, clone = pipeline(
        world,
        [
            {"name": "Build", "actions": [build_action("Slow", sleeper(world, 1.5))]},
            {"name": "Never", "actions": [build_action("Never", sleeper(world, 0))]},
        ],
    )
    execution = push_execution(world, name, clone, "stop-wait")
    wait_for(lambda: "Slow" in world.actions(name, execution), what="the build to start")
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, reason="wrong commit"
    )
    summary = world.latest(name)
    assert summary["status"] == "Stopping" and summary["stopTrigger"] == {"reason": "wrong commit"}
    with pytest.raises(codepipeline.exceptions.DuplicatedStopRequestException):
        codepipeline.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)
    assert world.wait(name, execution) == "Stopped"
    actions = world.actions(name, execution)
    assert actions["Slow"]["status"] == "Succeeded" and "Never" not in actions
    with pytest.raises(codepipeline.exceptions.PipelineExecutionNotStoppableException):
        codepipeline.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)


def test_stop_and_abandon_abandons_the_running_action_and_stops_its_build(world, codepipeline):
    name, clone = pipeline(
        world, [{"name": "Build", "actions": [build_action("Slow", sleeper(world, 30))]}]
    )
    execution = push_execution(world, name, clone, "abandon")
    wait_for(lambda: "Slow" in world.actions(name, execution), what="the build to start")
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, abandon=True
    )
    assert world.wait(name, execution, timeout=20) == "Stopped"
    slow = world.actions(name, execution)["Slow"]
    assert slow["status"] == "Abandoned"
    build_id = slow["output"]["executionResult"]["externalExecutionId"]
    build = world.cloud.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert build["buildStatus"] == "STOPPED"


# -- retry --------------------------------------------------------------------------------------


def flaky(world: DeliveryWorld, key: str) -> str:
    """A build that fails until s3://<artifact bucket>/<key> exists."""
    check = f"import boto3; boto3.client('s3').head_object(Bucket='{world.bucket}', Key='{key}')"
    return world.project(
        f'version: 0.2\nphases:\n  build:\n    commands: ["python -c \\"{check}\\""]\n'
    )


@pytest.mark.parametrize(("mode", "steady_runs"), [("FAILED_ACTIONS", 1), ("ALL_ACTIONS", 2)])
def test_retrying_a_failed_stage_reruns_its_failed_or_all_actions_and_continues(
    world, codepipeline, mode, steady_runs
):
    key = f"flags/{uuid.uuid4().hex}"
    name, clone = pipeline(
        world,
        [
            {
                "name": "Build",
                "actions": [
                    build_action("Steady", sleeper(world, 0)),
                    build_action("Flaky", flaky(world, key)),
                ],
            },
            {"name": "After", "actions": [build_action("After", sleeper(world, 0))]},
        ],
    )
    execution = push_execution(world, name, clone, f"retry-{mode}")
    assert world.wait(name, execution) == "Failed"
    world.cloud.client("s3").put_object(Bucket=world.bucket, Key=key, Body=b"ok")
    codepipeline.retry_stage_execution(
        pipelineName=name, stageName="Build", pipelineExecutionId=execution, retryMode=mode
    )
    assert world.wait(name, execution) == "Succeeded"
    details = codepipeline.list_action_executions(
        pipelineName=name, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    runs = {n: [d["status"] for d in details if d["actionName"] == n] for n in ("Steady", "Flaky")}
    assert runs["Flaky"] == ["Succeeded", "Failed"]  # newest first
    assert len(runs["Steady"]) == steady_runs and set(runs["Steady"]) == {"Succeeded"}
    assert "After" in world.actions(name, execution)
    states = [d["state"] for t, d in world.received_events(execution) if "Pipeline" in t]
    assert "RESUMED" in states and states[-1] == "SUCCEEDED"


def test_only_a_failed_stage_of_the_latest_execution_can_be_retried(world, codepipeline):
    name, clone = pipeline(
        world, [{"name": "Build", "actions": [build_action("Fails", flaky(world, "never"))]}]
    )
    older = push_execution(world, name, clone, "older")
    assert world.wait(name, older) == "Failed"
    with pytest.raises(codepipeline.exceptions.StageNotRetryableException):
        codepipeline.retry_stage_execution(
            pipelineName=name,
            stageName="Source",
            pipelineExecutionId=older,
            retryMode="ALL_ACTIONS",
        )
    newer = push_execution(world, name, clone, "newer")
    assert world.wait(name, newer) == "Failed"
    with pytest.raises(codepipeline.exceptions.NotLatestPipelineExecutionException):
        codepipeline.retry_stage_execution(
            pipelineName=name,
            stageName="Build",
            pipelineExecutionId=older,
            retryMode="FAILED_ACTIONS",
        )
