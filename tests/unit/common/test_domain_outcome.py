"""How workflows end: summarize (pure) and record_outcome (moto SNS + DynamoDB)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlops_common.adapters.notifier import Notifier
from mlops_common.domain.outcome import record_outcome, summarize
from mlops_common.models import (
    DatasetRef,
    Execution,
    OutcomeInput,
    RunContext,
    RunTrigger,
    SchemaChange,
)

UPLOAD_EVENT = Path(__file__).resolve().parents[3] / "events" / "rules" / "s3_object_created.json"

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


def outcome(
    workflow: str, result: str, state: dict[str, Any], started_by: Any = None
) -> OutcomeInput:
    execution = EXECUTION.model_copy(update={"input": started_by})
    return OutcomeInput(workflow=workflow, outcome=result, execution=execution, state=state)


# ---- summarize ---------------------------------------------------------------------------------


def test_a_version_registered_on_a_declared_schema_change_says_it_was_judged_on_the_floor() -> None:
    change = SchemaChange(reason="radius sensor retired", declared_by="alice",
                          declared_at="2026-01-01T00:00:00+00:00", replaces_version=3)  # fmt: skip
    run = RUN.model_copy(update={"schema_change": change})
    state = {"start": {"Payload": {"action": "TRAIN", "run": run.model_dump(mode="json")}}}
    message = summarize(outcome("training", "REGISTERED", state))
    assert message["summary"] == (
        "new model version registered (s3://mlops-data/datasets/bc.csv version v1) (schema "
        "change from version 3 declared by alice: radius sensor retired - judged on "
        "MinimumMetric alone)"
    )
    assert message["schema_change"]["replaces_version"] == 3


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
        (
            "deploy",
            "AB_TEST_STOPPED",
            "candidate stopped by its A/B test; the live version serves alone",
        ),
        ("deploy", "SOMETHING_NEW", "something_new"),
    ],
)
def test_headline_names_the_outcome_of_the_workflow(
    workflow: str, result: str, headline: str
) -> None:
    message = summarize(outcome(workflow, result, {}))
    assert message == {
        "summary": headline,
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


def lambda_error(error_type: str, message: str) -> dict[str, str]:
    """What a Catch stores for a function error: the Lambda error document as the Cause."""
    document = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "5b1c9f0e-0000-4000-8000-000000000000",
        "stackTrace": ['  File "/var/task/app.py", line 17, in lambda_handler\n    raise'],
    }
    return {"Error": error_type, "Cause": json.dumps(document)}


def test_failure_is_one_line_naming_the_error_and_the_dataset_never_the_error_document() -> None:
    # Given DatasetInvalid from ValidateDataset, before the run had a dataset of its own
    state = {"error": lambda_error("DatasetInvalid", "line 3: feature 'x' is not numeric ('a')")}
    started_by = json.loads(UPLOAD_EVENT.read_text())
    request = outcome("training", "FAILED", state, started_by)
    # When
    message = summarize(request)
    # Then the first thing said is one line: error, first problem, the object and its version
    detail = started_by["detail"]["object"]
    assert list(message)[0] == "summary"
    assert message["summary"] == (
        "DatasetInvalid: line 3: feature 'x' is not numeric ('a') "
        f"(s3://mlops-dev-databucket-example/{detail['key']} version {detail['version-id']})"
    )
    assert (message["error"], message["cause"]) == (
        "DatasetInvalid", "line 3: feature 'x' is not numeric ('a')",
    )  # fmt: skip
    assert message["dataset"] == {
        "bucket": "mlops-dev-databucket-example",
        "key": detail["key"],
        "version_id": detail["version-id"],
        "etag": detail["etag"],
    }
    assert "stackTrace" not in json.dumps(message) and "requestId" not in json.dumps(message)


def test_a_message_that_names_the_dataset_already_is_not_repeated() -> None:
    problem = "s3://bkt/datasets/x.csv version v1: the file is empty"
    state = {"error": lambda_error("DatasetInvalid", problem)}
    dataset = {"bucket": "bkt", "key": "datasets/x.csv", "version_id": "v1"}
    retrain = {"retrain": {"dataset": dataset, "reason": "r", "requested_by": "alice",
               "request_id": "req-1"}}  # fmt: skip
    message = summarize(outcome("training", "FAILED", state, retrain))
    assert message["summary"] == f"DatasetInvalid: {problem}"
    assert message["dataset"] == dataset


def test_a_failed_retrain_of_latest_says_so() -> None:
    state = {
        "error": lambda_error("DatasetInvalid", "nothing to retrain: no dataset under s3://b/")
    }
    latest = {"retrain": {"dataset": "latest", "reason": "r", "requested_by": "a",
              "request_id": "req-1"}}  # fmt: skip
    message = summarize(outcome("training", "FAILED", state, latest))
    assert message["summary"].endswith("(the latest dataset)")
    assert message["dataset"] == {"requested": "latest"}


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (lambda_error("TrainingFailed", "no candidate finished\nsecond line"),
         "TrainingFailed: no candidate finished"),
        ({"Error": "States.TaskFailed", "Cause": json.dumps(
            {"TrainingJobName": "j", "FailureReason": "AlgorithmError: boom\nTraceback ..."})},
         "States.TaskFailed: AlgorithmError: boom"),
        ({"Error": "Lambda.ServiceException", "Cause": "\n  Rate exceeded\nmore"},
         "Lambda.ServiceException: Rate exceeded"),
        ({"Error": "States.Runtime", "Cause": "x" * 5000},
         "States.Runtime: " + "x" * 499 + "…"),
    ],
    ids=["lambda-error-document", "sagemaker-job", "plain-text", "long-text"],
)  # fmt: skip
def test_every_kind_of_cause_becomes_its_first_line(error: dict, line: str) -> None:
    message = summarize(outcome("training", "FAILED", RUN_STATE | {"error": error}))
    assert message["summary"] == f"{line} (s3://mlops-data/datasets/bc.csv version v1)"
    assert "\n" not in message["cause"]


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


def test_summary_of_a_stopped_ab_test_says_why_and_carries_the_comparison() -> None:
    # Given the DeployPipeline's state at NotifyABTestStopped (JudgeABTest's Lambda result)
    comparison = {"decision": "STOP", "decided_by": "rule", "reason": "error rate 0.500 against"
                  " 0.000, up more than 0.01"}  # fmt: skip
    state = {"plan": {"Payload": {"version": 3}}, "ab_result": {"Payload": comparison}}
    # When
    message = summarize(outcome("deploy", "AB_TEST_STOPPED", state))
    # Then the first line says why, and the comparison is unwrapped like every task result
    assert message["summary"] == (
        "candidate stopped by its A/B test; the live version serves alone: error rate 0.500 "
        "against 0.000, up more than 0.01"
    )
    assert message["ab_result"] == comparison


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


def upload_and_its_key() -> tuple[dict[str, Any], str]:
    """The sample upload event and the business key a run of it claims."""
    event = json.loads(UPLOAD_EVENT.read_text())
    obj = event["detail"]["object"]
    return (
        event,
        f"dataset#s3://{event['detail']['bucket']['name']}/{obj['key']}#{obj['version-id']}",
    )


def test_a_run_that_crashed_before_it_had_a_run_closes_its_claim_from_its_input(
    world: Any, inbox: Inbox
) -> None:
    # Given run-a claimed the upload's version, then ValidateDataset's worker died: the Catch
    # hands RecordOutcome the error and no `start`
    event, key = upload_and_its_key()
    ledger = world.ledger()
    assert ledger.claim(key, "run-a", {}) is None
    crash = {"Error": "Runtime.ExitError", "Cause": "Runtime exited with error: signal: killed"}
    # When
    result = record_outcome(
        outcome("training", "FAILED", {"error": crash}, event), ledger, inbox.notifier
    )
    # Then the claim is closed FAILED, so a replay claims the version at once
    assert result.recorded is True
    item = world.table.get_item(Key={"pk": key, "sk": "run"})["Item"]
    assert (item["status"], item["details"]["error"]) == ("FAILED", "Runtime.ExitError")
    assert ledger.claim(key, "run-b", {}) is None


def test_a_crashed_run_never_closes_a_claim_another_run_holds(world: Any, inbox: Inbox) -> None:
    event, key = upload_and_its_key()
    ledger = world.ledger()
    assert ledger.claim(key, "run-other", {}) is None
    crash = {"Error": "Runtime.ExitError", "Cause": "killed"}
    result = record_outcome(
        outcome("training", "FAILED", {"error": crash}, event), ledger, inbox.notifier
    )
    assert result.recorded is False
    item = world.table.get_item(Key={"pk": key, "sk": "run"})["Item"]
    assert (item["run_id"], item["status"]) == ("run-other", "RUNNING")


def test_a_claim_the_run_rejected_keeps_its_rejection(world: Any, inbox: Inbox) -> None:
    event, key = upload_and_its_key()
    ledger = world.ledger()
    assert ledger.claim(key, "run-a", {}) is None
    ledger.reject(key, "run-a", "line 3: no label column")
    invalid = {"Error": "DatasetInvalid", "Cause": "line 3: no label column"}
    result = record_outcome(
        outcome("training", "FAILED", {"error": invalid}, event), ledger, inbox.notifier
    )
    assert result.recorded is False
    item = world.table.get_item(Key={"pk": key, "sk": "run"})["Item"]
    assert (item["status"], item["reason"]) == ("REJECTED", "line 3: no label column")


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


def test_a_forced_retrain_finishes_its_own_attempt_and_says_why_it_ran(
    world: Any, inbox: Inbox
) -> None:
    # Given a forced retrain holding attempt 2 of the version run-a's upload trained
    ledger = world.ledger()
    attempt_key = f"{RUN.dataset.business_key}#attempt#2"
    trigger = RunTrigger(kind="retrain", attempt=2, forced=True, request_id="req-1",
                         reason="labels fixed", requested_by="alice")  # fmt: skip
    retrain = RUN.model_copy(update={"run_id": "run-b", "ledger_key": attempt_key,
                                     "trigger": trigger})  # fmt: skip
    ledger.claim(RUN.dataset.business_key, "run-a", {})
    ledger.claim(attempt_key, "run-b", {})
    state = {"start": {"Payload": {"action": "TRAIN", "reason": "retrain requested",
                                   "run": retrain.model_dump(mode="json")}}}  # fmt: skip
    # When it ends NOT_BETTER
    result = record_outcome(outcome("training", "NOT_BETTER", state), ledger, inbox.notifier)
    # Then its attempt is finished, the upload's run is untouched, and the operator reads why
    assert result.recorded is True
    assert world.table.get_item(Key={"pk": attempt_key, "sk": "run"})["Item"]["status"] == (
        "NOT_BETTER"
    )
    first = world.table.get_item(Key={"pk": RUN.dataset.business_key, "sk": "run"})["Item"]
    assert first["status"] == "RUNNING"
    [notification] = inbox.read()
    assert json.loads(notification["Message"])["trigger"] == trigger.model_dump(mode="json")


def test_a_skip_says_why_and_names_the_object_once() -> None:
    reason = "s3://mlops-data/datasets/2026/ is a folder marker, not a dataset"
    state = {"start": {"Payload": {"action": "SKIP", "reason": reason, "run": None}}}
    upload = json.loads(UPLOAD_EVENT.read_text())
    upload["detail"]["object"]["key"] = "datasets/2026/"
    upload["detail"]["bucket"]["name"] = "mlops-data"
    message = summarize(outcome("training", "SKIPPED", state, upload))
    assert message["summary"] == reason


def test_a_run_of_uploads_names_its_upload_in_a_failure_and_closes_its_claim_from_the_input(
    world: Any, inbox: Inbox
) -> None:
    # Given a run RecordUpload started for one upload (QuietWindowSeconds 0), whose
    # ValidateDataset died after its claim
    upload = {"key": "datasets/a.csv", "version": "v7"}
    started_by = {"burst": {"bucket": "bkt", "prefix": "datasets/", "started_by": "upload",
                            "upload": upload}}  # fmt: skip
    key = "dataset#s3://bkt/datasets/a.csv#v7"
    ledger = world.ledger()
    assert ledger.claim(key, "run-a", {}) is None
    crash = {"Error": "Runtime.ExitError", "Cause": "Runtime exited with error: signal: killed"}
    request = outcome("training", "FAILED", {"error": crash}, started_by)
    # Then the notification names the upload, and the claim is closed for a replay
    message = summarize(request)
    assert message["dataset"] == {"bucket": "bkt", "key": "datasets/a.csv", "version_id": "v7"}
    assert message["summary"].endswith("(s3://bkt/datasets/a.csv version v7)")
    assert record_outcome(request, ledger, inbox.notifier).recorded is True
    assert world.table.get_item(Key={"pk": key, "sk": "run"})["Item"]["status"] == "FAILED"


def test_a_failed_run_of_a_burst_says_it_was_the_newest_upload_of_the_prefix() -> None:
    state = {"error": lambda_error("RegistryBusy", "waited 120 s")}
    burst = {"burst": {"bucket": "bkt", "prefix": "datasets/", "started_by": "schedule"}}
    message = summarize(outcome("training", "FAILED", state, burst))
    assert message["summary"].endswith("(the newest upload under s3://bkt/datasets/)")
    assert message["dataset"] == {"burst": "s3://bkt/datasets/"}
