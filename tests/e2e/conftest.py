"""Fixtures that run the real stack in the twin (template.yaml provisioned into a local cloud)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mlops.demo.loop import workflows
from mlops.demo.progress import Watcher
from mlops.twin.stack import TwinStack, start_stack

DATASET = "ml/data/breast_cancer.csv"


@dataclass
class Harness:
    """The stack, a watcher of its executions and an inbox subscribed to its notifications."""

    twin: TwinStack
    watcher: Watcher
    inbox_url: str

    def client(self, service: str) -> Any:
        return self.twin.client(service)

    def dataset(self) -> bytes:
        return (self.twin.root / DATASET).read_bytes()

    def wait_for(self, condition: Callable[[Watcher], bool], timeout: float = 180) -> None:
        states = [(v.workflow, v.status) for v in self.watcher.executions.values()]
        assert self.watcher.wait(condition, timeout), f"timed out; executions: {states}"

    def run_upload(self, key: str, body: bytes, timeout: float = 180) -> list:
        """Uploads a dataset and waits until every workflow it started has ended."""
        before = set(self.watcher.executions)
        self.twin.upload_dataset(key, body)
        self.wait_for(lambda w: set(w.executions) - before != set() and not w.running(), timeout)
        # A registration starts the DeployPipeline a moment after training ends.
        time.sleep(1.0)
        self.wait_for(lambda w: not w.running(), timeout)
        return [v for arn, v in self.watcher.executions.items() if arn not in before]

    def notifications(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.inbox_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append(
                    {"subject": envelope.get("Subject"), "body": json.loads(envelope["Message"])}
                )
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def model_packages(self) -> list[dict[str, Any]]:
        return self.client("sagemaker").list_model_packages(
            ModelPackageGroupName=self.twin.outputs["ModelPackageGroupName"]
        )["ModelPackageSummaryList"]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]


def _harness(twin: TwinStack) -> Harness:
    sqs, sns = twin.client("sqs"), twin.client("sns")
    inbox = sqs.create_queue(QueueName="test-notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=twin.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=inbox_arn)
    return Harness(
        twin, Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _line: None), inbox
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Harness]:
    """A stack whose first dataset upload has been trained, registered and deployed."""
    twin = start_stack()
    try:
        harness = _harness(twin)
        harness.first_run = harness.run_upload("first.csv", harness.dataset())  # type: ignore[attr-defined]
        yield harness
    finally:
        twin.close()


@pytest.fixture
def fresh() -> Iterator[Harness]:
    twin = start_stack()
    try:
        yield _harness(twin)
    finally:
        twin.close()


@pytest.fixture(scope="module")
def story() -> Iterator[Harness]:
    """A stack deploying with CANARY 25 %, whose first upload is live as v1 (the guarded
    deployment story of test_guarded_deployment.py builds on it, step by step)."""
    twin = start_stack(DeploymentStrategy="CANARY", CanarySizePercent="25")
    try:
        harness = _harness(twin)
        runs = harness.run_upload("first.csv", harness.dataset())
        assert {v.status for v in runs} == {"SUCCEEDED"}
        harness.notifications()  # drain the first run's messages
        yield harness
    finally:
        twin.close()


@pytest.fixture
def make_stack() -> Iterator[Callable[..., Harness]]:
    """Starts a stack with template parameter overrides; closed at the end of the test."""
    created: list[TwinStack] = []

    def make(**parameters: str) -> Harness:
        twin = start_stack(**parameters)
        created.append(twin)
        return _harness(twin)

    yield make
    for twin in created:
        twin.close()
