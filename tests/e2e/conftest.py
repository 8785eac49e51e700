"""Fixtures that run the real stack in the twin (template.yaml provisioned into a local cloud).

Every test states the starting point it needs and finds its own runs, jobs and notifications
(by execution ARN), so the tests of a module pass in any order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from mlops.demo.loop import workflows
from mlops.demo.progress import ExecutionView, Watcher
from mlops.twin.stack import TwinStack, start_stack

DATASET = "ml/data/breast_cancer.csv"


@dataclass
class Harness:
    """The stack, a watcher of its executions and an inbox subscribed to its notifications."""

    twin: TwinStack
    watcher: Watcher
    inbox_url: str
    received: list[dict[str, Any]] = field(default_factory=list)  # every notification so far

    def client(self, service: str) -> Any:
        return self.twin.client(service)

    def dataset(self) -> bytes:
        return (self.twin.root / DATASET).read_bytes()

    def wait_for(self, condition: Callable[[Watcher], bool], timeout: float = 180) -> None:
        states = [(v.workflow, v.status) for v in self.watcher.executions.values()]
        assert self.watcher.wait(condition, timeout), f"timed out; executions: {states}"

    def settle(self, before: set[str], timeout: float = 180) -> list[ExecutionView]:
        """Waits until the executions started after `before` (and the ones their outcomes
        start a moment later: a registration, a rejection, an alarm) have ended."""
        self.wait_for(lambda w: set(w.executions) - before != set() and not w.running(), timeout)
        time.sleep(1.5)
        self.wait_for(lambda w: not w.running(), timeout)
        return [v for arn, v in self.watcher.executions.items() if arn not in before]

    def run_upload(self, key: str, body: bytes, timeout: float = 180) -> list[ExecutionView]:
        """Uploads a dataset and waits until every workflow it started has ended."""
        before = set(self.watcher.executions)
        self.twin.upload_dataset(key, body)
        return self.settle(before, timeout)

    def notifications(self, runs: Iterable[ExecutionView | str]) -> list[dict[str, Any]]:
        """The notifications these executions (views or ARNs) published, whichever test read
        the inbox first."""
        self._read_inbox()
        arns = {run if isinstance(run, str) else run.arn for run in runs}
        return [m for m in self.received if m["body"].get("execution") in arns]

    def _read_inbox(self) -> None:
        sqs = self.client("sqs")
        while batch := sqs.receive_message(
            QueueUrl=self.inbox_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                envelope = json.loads(message["Body"])
                self.received.append(
                    {"subject": envelope.get("Subject"), "body": json.loads(envelope["Message"])}
                )
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def training_jobs(self) -> list[dict[str, Any]]:
        sagemaker = self.client("sagemaker")
        return sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]

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


@dataclass(frozen=True)
class FirstRun:
    """What the first upload of a `served` stack did, recorded before any test ran."""

    executions: list[ExecutionView]
    training_jobs: list[str]  # names
    uploaded: tuple[datetime, datetime]  # a window that holds the upload's event and no other


@dataclass
class Served(Harness):
    first: FirstRun | None = None


def _harness(twin: TwinStack, kind: type[Harness] = Harness) -> Any:
    sqs, sns = twin.client("sqs"), twin.client("sns")
    inbox = sqs.create_queue(QueueName="test-notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=twin.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=inbox_arn)
    watcher = Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _line: None)
    return kind(twin, watcher, inbox)


@pytest.fixture(scope="session")
def harness_of() -> Callable[[TwinStack], Harness]:
    """Wraps a stack a module's own fixture started (its parameters) in the test harness."""
    return _harness


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A stack whose first dataset upload has been trained, registered and deployed."""
    twin = start_stack()
    try:
        harness: Served = _harness(twin, Served)
        started = datetime.now(UTC)
        executions = harness.run_upload("first.csv", harness.dataset())
        jobs = [job["TrainingJobName"] for job in harness.training_jobs()]
        harness.first = FirstRun(executions, jobs, (started, datetime.now(UTC)))
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
    deployment tests of test_guarded_deployment.py each start from whatever is live)."""
    twin = start_stack(DeploymentStrategy="CANARY", CanarySizePercent="25")
    try:
        harness = _harness(twin)
        runs = harness.run_upload("first.csv", harness.dataset())
        assert {v.status for v in runs} == {"SUCCEEDED"}
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
