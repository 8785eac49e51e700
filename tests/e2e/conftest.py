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
from pathlib import Path
from typing import Any

import pytest

from mlops.control.timeline import ExecutionView, Watcher
from mlops.demo.loop import workflows
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

    def why(self, run: ExecutionView | str) -> str:
        """How an execution ended, for assertion messages: status, error and cause, the first
        failed step's error and cause, and the last states it entered."""
        arn = run if isinstance(run, str) else run.arn
        described = self.client("stepfunctions").describe_execution(executionArn=arn)
        events = self.history(arn)
        lines = [
            f"{arn.rsplit(':', 2)[-2]} {described['status']}: "
            f"{described.get('error')}: {_readable(described.get('cause'))}"
        ]
        for event in events:
            details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), None)
            if details and (details.get("error") or details.get("cause")):
                lines.append(
                    f"  first failure ({event['type']}): {details.get('error')}: "
                    f"{_readable(details.get('cause'))}"
                )
                break
        entered = [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]
        lines.append(f"  last states: {entered[-8:]}")
        return "\n".join(lines)

    def assert_status(
        self, run: ExecutionView | str, status: str, error: str | None = None
    ) -> None:
        """The execution ended in `status` (and `error`); if not, the failure says why."""
        arn = run if isinstance(run, str) else run.arn
        described = self.client("stepfunctions").describe_execution(executionArn=arn)
        ended = (described["status"], described.get("error") if error is not None else None)
        assert ended == (status, error), self.why(arn)

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]


def _readable(cause: str | None) -> str | None:
    """A Lambda error document (errorType, errorMessage, stackTrace) as its message alone."""
    try:
        document = json.loads(cause or "")
    except ValueError:
        return cause
    if isinstance(document, dict) and "errorMessage" in document:
        return f"{document.get('errorType')}: {document['errorMessage']}"
    return cause


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


def _first_upload_live(**parameters: str) -> Iterator[Harness]:
    """A stack with `parameters` whose first upload has been trained and is live as v1."""
    twin = start_stack(**parameters)
    try:
        harness = _harness(twin)
        runs = harness.run_upload("first.csv", harness.dataset())
        for run in runs:
            harness.assert_status(run, "SUCCEEDED")
        yield harness
    finally:
        twin.close()


@pytest.fixture(scope="module")
def story() -> Iterator[Harness]:
    """A stack deploying with CANARY 25 %, whose first upload is live as v1 (the guarded
    deployment tests of test_guarded_deployment.py each start from whatever is live)."""
    yield from _first_upload_live(DeploymentStrategy="CANARY", CanarySizePercent="25")


@pytest.fixture(scope="module")
def turns() -> Iterator[Harness]:
    """A stack deploying ALL_AT_ONCE whose first upload is live as v1 (the tests of one
    workflow at a time per endpoint, Superseded and provenance each start from whatever good,
    approved version is live, and end on one). A generous rollout timeout (36 s on the twin's
    clock): a busy machine is slow to start model servers, and a timed-out rollout would be
    rolled back."""
    yield from _first_upload_live(
        DeploymentStrategy="ALL_AT_ONCE", MaxExecutionTimeoutSeconds="3600"
    )


@pytest.fixture
def make_stack() -> Iterator[Callable[..., Harness]]:
    """Starts a stack with template parameter overrides (and `ml_dir`, the code it publishes);
    closed at the end of the test."""
    created: list[TwinStack] = []

    def make(ml_dir: Path | None = None, **parameters: str) -> Harness:
        twin = start_stack(ml_dir=ml_dir, **parameters)
        created.append(twin)
        return _harness(twin)

    yield make
    for twin in created:
        twin.close()


@pytest.fixture(scope="module")
def pending() -> Iterator[Harness]:
    """A stack that registers versions without approving them (AutoApprove=false): nothing
    deploys, and with no approved champion every valid run registers, whatever ran before."""
    twin = start_stack(AutoApprove="false")
    try:
        yield _harness(twin)
    finally:
        twin.close()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Writes a line to the terminal even while pytest captures output: figures a test
    reports (recovery seconds, rollbacks started) show in every run's log."""
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def write(line: str) -> None:
        if terminal is None or capture is None:
            print(line)
            return
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"\n[{request.node.name}] {line}")

    return write
