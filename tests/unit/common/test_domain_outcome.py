"""How workflows end: summarize (pure) and record_outcome (moto SNS + DynamoDB)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mlops_common.adapters.notifier import Notifier
from mlops_common.domain.outcome import record_outcome, summarize
from mlops_common.models import DatasetRef, Execution, OutcomeInput, RunContext

EXECUTION = Execution(
    Name="run-a", Id="arn:aws:states:us-east-1:123456789012:execution:train:run-a"
)
RUN = RunContext(
    run_id="run-a",
    execution_arn=EXECUTION.id,
    dataset=DatasetRef(
        bucket="mlops-data",
        key="datasets/bc.csv",
        version_id="v1",
        etag="e",
        size=120384,
        rows=569,
        features=30,
        label="malignant",
    ),
    candidates=[],
)
RUN_STATE = {
    "start": {
        "Payload": {
            "action": "TRAIN",
            "reason": "new dataset version",
            "run": RUN.model_dump(mode="json"),
        }
    }
}


def outcome(workflow: str, result: str, state: dict[str, Any]) -> OutcomeInput:
    return OutcomeInput(workflow=workflow, outcome=result, execution=EXECUTION, state=state)


# ---- summarize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow", "result", "headline"),
    [
        ("training", "REGISTERED", "new model version registered"),
        ("training", "NOT_BETTER", "candidate not better than the champion; nothing registered"),
        ("training", "FAILED", "training run failed"),
        ("deploy", "DEPLOYED", "model deployed and smoke-tested"),
        ("deploy", "SKIPPED", "nothing to deploy"),
        (
            "rollback",
            "NOTHING_TO_ROLL_BACK",
            "rollback requested but no older approved model exists; the endpoint keeps its model",
        ),
        (
            "rollback",
            "SKIPPED",
            "no rollback needed: production is unaffected or a deployment's guardrails decide",
        ),
        (
            "deploy",
            "SHADOW_DISCARDED",
            "candidate rejected by its shadow test; production unchanged",
        ),
        ("deploy", "SOMETHING_NEW", "something_new"),
    ],
)
def test_headline_names_the_outcome_of_the_workflow(
    workflow: str, result: str, headline: str
) -> None:
    message = summarize(outcome(workflow, result, {}))
    assert message == {
        "workflow": workflow,
        "outcome": result,
        "headline": headline,
        "execution": EXECUTION.id,
    }


def test_summary_of_a_registered_run_has_dataset_and_unwrapped_task_results() -> None:
    # Given the training state after RegisterModel (Lambda results sit under "Payload")
    state = RUN_STATE | {
        "candidates": [{"status": "EVALUATED", "candidate": {"name": "rf"}}],
        "selection": {"Payload": {"gate": {"score": 0.97}}},
        "registration": {"Payload": {"model_package_arn": "arn:pkg/1", "version": 1}},
    }
    # When
    message = summarize(outcome("training", "REGISTERED", state))
    # Then
    assert message["dataset"] == RUN.dataset.model_dump(mode="json")
    assert message["selection"] == {"gate": {"score": 0.97}}
    assert message["registration"] == {"model_package_arn": "arn:pkg/1", "version": 1}
    assert message["candidates"] == state["candidates"]


def test_summary_of_a_failure_carries_error_name_and_shortened_cause() -> None:
    state = {"error": {"Error": "DatasetInvalid", "Cause": "x" * 5000}}
    message = summarize(outcome("training", "FAILED", state))
    assert message["error"] == "DatasetInvalid"
    assert message["cause"] == "x" * 2000


def test_summary_of_a_discarded_shadow_test_carries_the_comparison() -> None:
    # Given the DeployPipeline's state at NotifyShadowDiscarded (CompareShadow's Lambda result)
    comparison = {"decision": "DISCARD", "reason": "agreement 0.5000 below 0.95", "paired": 4}
    state = {"plan": {"Payload": {"version": 3}}, "shadow_result": {"Payload": comparison}}
    # When
    message = summarize(outcome("deploy", "SHADOW_DISCARDED", state))
    # Then the operator reads why the candidate lost, unwrapped like every task result
    assert message["headline"] == "candidate rejected by its shadow test; production unchanged"
    assert message["shadow_result"] == comparison
    assert message["plan"] == {"version": 3}


# ---- record_outcome ----------------------------------------------------------------------------


@dataclass
class Inbox:
    notifier: Notifier
    read: Callable[[], list[dict[str, Any]]]


@pytest.fixture
def inbox(world: Any, aws: Any) -> Inbox:
    """A Notifier for the topic, and what a queue subscribed to the topic received."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="mlops-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        return [json.loads(m["Body"]) for m in messages]

    return Inbox(Notifier(sns, topic), read)


def test_registered_run_is_published_and_finishes_the_ledger_entry(
    world: Any, inbox: Inbox
) -> None:
    # Given run-a holds its dataset version in the ledger
    ledger = world.ledger()
    assert ledger.claim(RUN.dataset.business_key, "run-a", {}) is None
    request = outcome("training", "REGISTERED", RUN_STATE)
    # When
    result = record_outcome(request, ledger, inbox.notifier)
    # Then the operator gets one notification with the summary and filterable attributes
    [notification] = inbox.read()
    assert result.subject == "[mlops] training: new model version registered"
    assert result.recorded is True
    assert notification["MessageId"] == result.message_id
    assert notification["Subject"] == result.subject
    assert json.loads(notification["Message"]) == summarize(request)
    assert notification["MessageAttributes"] == {
        "workflow": {"Type": "String", "Value": "training"},
        "outcome": {"Type": "String", "Value": "REGISTERED"},
    }
    # And the run's ledger entry is finished with the outcome
    item = world.table.get_item(Key={"pk": RUN.dataset.business_key, "sk": "run"})["Item"]
    assert item["status"] == "REGISTERED"
    assert item["details"]["headline"] == "new model version registered"
    assert item["finished_at"]


def test_failed_run_frees_its_dataset_version_for_a_replay(world: Any, inbox: Inbox) -> None:
    ledger = world.ledger()
    ledger.claim(RUN.dataset.business_key, "run-a", {})
    state = RUN_STATE | {"error": {"Error": "TrainingFailed", "Cause": "all failed"}}
    record_outcome(outcome("training", "FAILED", state), ledger, inbox.notifier)
    assert ledger.claim(RUN.dataset.business_key, "run-b", {}) is None


def test_outcome_without_a_run_is_published_but_not_recorded(world: Any, inbox: Inbox) -> None:
    result = record_outcome(
        outcome("deploy", "DEPLOYED", {"plan": {"Payload": {"version": 2}}}),
        world.ledger(),
        inbox.notifier,
    )
    assert result.recorded is False
    assert result.subject == "[mlops] deploy: model deployed and smoke-tested"
    [notification] = inbox.read()
    assert json.loads(notification["Message"])["plan"] == {"version": 2}
    assert world.table.scan()["Count"] == 0


def test_run_that_lost_its_key_is_published_but_not_recorded(world: Any, inbox: Inbox) -> None:
    ledger = world.ledger()
    ledger.claim(RUN.dataset.business_key, "run-other", {})
    result = record_outcome(outcome("training", "REGISTERED", RUN_STATE), ledger, inbox.notifier)
    assert result.recorded is False
    assert len(inbox.read()) == 1
