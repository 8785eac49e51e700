"""The delivery pipeline's notifications, from the real-shaped aws.codepipeline events in
events/pipeline/ and the API answers CodePipeline gives for the execution (GetPipelineExecution,
ListActionExecutions through botocore's Stubber; moto's SNS and SQS receive the message)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from mlops_common.adapters.notifier import Notifier
from mlops_common.adapters.pipelines import Pipelines
from mlops_common.domain.pipeline_notice import (
    PipelineChangeEvent,
    compose,
    notified,
    notify_pipeline_change,
)

EVENTS = Path(__file__).resolve().parents[3] / "events" / "pipeline"
SAMPLES = sorted(p.name for p in EVENTS.glob("*.json"))
PIPELINE, EXECUTION = "mlops-delivery", "3b9cd2f5-6b4f-4c1e-9a51-0f7c2d8e4a10"
COMMIT = "9c1f0e3a2b4d6c8e0f1a3b5c7d9e1f2a3b4c5d6e"
BUILD = "BuildAndTestProject-a1B2c3D4e5F6:0e8f5a7c-1d2b-4c3a-9e8f-7a6b5c4d3e2f"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

EXECUTION_RECORD = {
    "pipelineName": PIPELINE,
    "pipelineVersion": 4,
    "pipelineExecutionId": EXECUTION,
    "status": "Failed",
    "artifactRevisions": [
        {
            "name": "SourceArtifact",
            "revisionId": COMMIT,
            "revisionSummary": json.dumps(
                {"ProviderType": "GitHub", "CommitMessage": "Raise the random forest's depth to 8"}
            ),
            "revisionUrl": f"https://github.com/acme/mlops/commit/{COMMIT}",
        }
    ],
    "trigger": {"triggerType": "WebhookV2", "triggerDetail": "arn:aws:codeconnections:..."},
}


def action(stage: str, name: str, status: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {
        "pipelineExecutionId": EXECUTION,
        "actionExecutionId": f"00000000-0000-4000-8000-0000000000{minute:02d}",
        "pipelineVersion": 4,
        "stageName": stage,
        "actionName": name,
        "startTime": T0.replace(minute=minute),
        "lastUpdateTime": T0.replace(minute=minute, second=30),
        "status": status,
        "input": {
            "actionTypeId": {
                "category": extra.pop("category", "Build"),
                "owner": "AWS",
                "provider": extra.pop("provider", "CodeBuild"),
                "version": "1",
            },
            "configuration": {},
            "resolvedConfiguration": extra.pop("configuration", {}),
        },
        "output": {"executionResult": extra.pop("result", {}), "outputVariables": {}},
    }


FAILED_BUILD = action(
    "BuildAndTest",
    "BuildAndTest",
    "Failed",
    17,
    result={
        "externalExecutionId": BUILD,
        "externalExecutionSummary": "Build terminated with state: FAILED",
        "errorDetails": {
            "code": "JobFailed",
            "message": "Build terminated with state: FAILED. Phase: BUILD, Code: "
            "COMMAND_EXECUTION_ERROR, Message: Error while executing command: python -m pytest"
            " -q tests/unit tests/workflows. Reason: exit status 1\nmore detail",
        },
    },
)
SOURCE = action("Source", "Source", "Succeeded", 15, category="Source", provider="Conn")
APPROVAL = action(
    "ApproveProduction",
    "ApproveProduction",
    "InProgress",
    48,
    category="Approval",
    provider="Manual",
    configuration={
        "CustomData": f"Commit {COMMIT}: staging: Registered v7 (f1 0.9712 vs champion 0.9650)",
        "ExternalEntityLink": "https://console.aws.amazon.com/states/home#/v2/executions/x",
    },
)


def load(name: str) -> PipelineChangeEvent:
    return PipelineChangeEvent.model_validate(json.loads((EVENTS / name).read_text()))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_an_eventbridge_codepipeline_event_the_model_parses(name):
    raw = json.loads((EVENTS / name).read_text())
    assert set(raw) == {"version", "id", "detail-type", "source", "account", "time", "region",
                        "resources", "detail"}  # fmt: skip
    assert UUID.match(raw["id"]) and raw["resources"] == [
        f"arn:aws:codepipeline:us-east-1:123456789012:{PIPELINE}"
    ]
    event = load(name)
    assert event.correlation_id == EXECUTION and event.detail.pipeline == PIPELINE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pipeline_started.json", True),
        ("pipeline_succeeded.json", True),
        ("pipeline_failed.json", True),
        ("stage_failed.json", True),
        ("action_failed.json", True),
        ("approval_waiting.json", True),
        ("action_succeeded.json", False),
    ],
)
def test_pipeline_events_failures_and_waiting_approvals_are_notified_and_nothing_else(
    name, expected
):
    assert notified(load(name)) is expected


def test_a_started_execution_names_the_commit_and_its_message():
    subject, message = compose(load("pipeline_started.json"), EXECUTION_RECORD, [SOURCE])
    assert subject == f"{PIPELINE}: STARTED (commit 9c1f0e3)"
    assert message["summary"] == (
        f"{PIPELINE} STARTED (commit 9c1f0e3): Raise the random forest's depth to 8"
    )
    assert message["commit"] == {
        "id": COMMIT,
        "message": "Raise the random forest's depth to 8",
        "url": f"https://github.com/acme/mlops/commit/{COMMIT}",
    }


@pytest.mark.parametrize(
    "name", ["pipeline_failed.json", "stage_failed.json", "action_failed.json"]
)
def test_a_failure_names_the_failed_action_and_its_first_problem_in_one_line(name):
    subject, message = compose(load(name), EXECUTION_RECORD, [FAILED_BUILD, SOURCE])
    assert subject == f"{PIPELINE}: FAILED at BuildAndTest/BuildAndTest (commit 9c1f0e3)"
    failed = message["failed_action"]
    assert (failed["stage"], failed["action"]) == ("BuildAndTest", "BuildAndTest")
    assert failed["summary"] == "Build terminated with state: FAILED"
    assert failed["error"].endswith("Reason: exit status 1")  # first line only
    assert "\n" not in message["summary"] and "exit status 1" in message["summary"]


def test_an_action_failure_known_only_from_its_event_still_names_the_action_and_summary():
    _, message = compose(load("action_failed.json"), EXECUTION_RECORD, [SOURCE])
    assert message["failed_action"]["summary"] == "Build terminated with state: FAILED"
    assert message["failed_action"]["url"].startswith("https://console.aws.amazon.com/codebuild")


def test_a_waiting_approval_carries_the_staging_figures():
    subject, message = compose(load("approval_waiting.json"), EXECUTION_RECORD, [APPROVAL])
    assert (
        subject
        == f"{PIPELINE}: approval needed at ApproveProduction/ApproveProduction (commit 9c1f0e3)"[
            :100
        ]
    )
    assert message["approval"]["custom_data"].endswith("(f1 0.9712 vs champion 0.9650)")
    assert "Registered v7" in message["summary"]


def test_an_execution_without_a_source_revision_yet_says_so():
    _, message = compose(load("pipeline_started.json"), {"artifactRevisions": []}, [])
    assert message["commit"] is None and "no commit yet" in message["summary"]


@pytest.fixture
def topic_queue(aws: Any) -> tuple[Any, str, str]:
    """Offline (the shared `aws` fixture), also inside the pipeline's BuildAndTest."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="delivery")["TopicArn"]
    queue = sqs.create_queue(QueueName="delivery")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    return sqs, queue, topic


def test_the_notice_is_published_to_the_topic_with_the_execution_read_from_the_api(topic_queue):
    sqs, queue, topic = topic_queue
    codepipeline = boto3.client(
        "codepipeline", "us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(codepipeline) as stub:
        stub.add_response(
            "get_pipeline_execution",
            {"pipelineExecution": EXECUTION_RECORD},
            {"pipelineName": PIPELINE, "pipelineExecutionId": EXECUTION},
        )
        for page, token in (([FAILED_BUILD], "next"), ([SOURCE], None)):
            expected = {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXECUTION}}
            if token is None:
                expected["nextToken"] = "next"
            stub.add_response(
                "list_action_executions",
                {"actionExecutionDetails": page, **({"nextToken": token} if token else {})},
                expected,
            )
        notice = notify_pipeline_change(
            load("pipeline_failed.json"),
            Pipelines(codepipeline),
            Notifier(boto3.client("sns", "us-east-1"), topic),
        )
        stub.assert_no_pending_responses()
    assert notice.published and notice.message_id
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Subject"] == notice.subject
    delivered = json.loads(body["Message"])
    assert delivered["failed_action"]["action"] == "BuildAndTest"
    assert body["MessageAttributes"]["state"]["Value"] == "FAILED"


def test_an_event_that_is_not_notified_calls_nothing_and_publishes_nothing():
    class Unreachable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"{name} was called")

    notice = notify_pipeline_change(load("action_succeeded.json"), Unreachable(), Unreachable())
    assert notice.published is False
