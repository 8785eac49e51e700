"""template.yaml's part in coalescing uploads: the NewDataset rule records every upload with
RecordUpload (whose failures reach the stack's dead-letter queue), RecordUpload may write
schedules only in the stack's group and pass only the Scheduler role, and that role may only
start the TrainingPipeline and dead-letter what it could not start."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
PIPELINE_ARN = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
    "${AWS::StackName}-TrainingPipeline"
)


@cache
def resources() -> dict[str, Any]:
    return load_cfn_yaml(str(TEMPLATE))["Resources"]


def statements(policies: list[Any]) -> list[dict[str, Any]]:
    found = []
    for policy in policies:
        document = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
        found += document.get("Statement", [])
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    granted = statement["Action"]
    return granted if isinstance(granted, list) else [granted]


def sub(value: Any) -> str:
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


def test_quiet_window_is_a_parameter_of_seconds_where_zero_starts_at_once() -> None:
    parameter = load_cfn_yaml(str(TEMPLATE))["Parameters"]["QuietWindowSeconds"]
    assert (parameter["Type"], parameter["MinValue"], parameter["Default"]) == ("Number", 0, 60)
    variables = resources()["RecordUploadFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["QUIET_WINDOW_SECONDS"] == {"Ref": "QuietWindowSeconds"}


def test_the_new_dataset_rule_records_uploads_and_no_longer_starts_the_pipeline() -> None:
    rule = resources()["TrainingPipelineNewDataset"]["Properties"]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RecordUploadFunction", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "NewDataset" not in resources()["TrainingPipeline"]["Properties"]["Events"]
    permission = resources()["RecordUploadFromNewDataset"]["Properties"]
    assert (permission["Principal"], permission["Action"]) == (
        "events.amazonaws.com",
        "lambda:InvokeFunction",
    )
    assert permission["SourceArn"] == {"Fn::GetAtt": ["TrainingPipelineNewDataset", "Arn"]}


def test_a_failed_record_upload_lands_in_the_stack_dead_letter_queue() -> None:
    function = resources()["RecordUploadFunction"]["Properties"]
    assert function["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
    }


def test_record_upload_writes_schedules_only_in_the_stack_group_and_passes_only_its_role() -> None:
    function = resources()["RecordUploadFunction"]["Properties"]
    granted = statements(function["Policies"])
    scheduler = [s for s in granted if any(a.startswith("scheduler:") for a in actions(s))]
    assert [sorted(actions(s)) for s in scheduler] == [
        ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"]
    ]
    assert sub(scheduler[0]["Resource"]).endswith(":schedule/${UploadScheduleGroup}/*")
    [passing] = [s for s in granted if "iam:PassRole" in actions(s)]
    assert passing["Resource"] == {"Fn::GetAtt": ["UploadSchedulerRole", "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    starting = [s for s in granted if "states:StartExecution" in actions(s)]
    assert [sub(s["Resource"]) for s in starting] == [PIPELINE_ARN]
    assert not any(a.endswith("*") for s in granted for a in actions(s))
    group = resources()["UploadScheduleGroup"]
    assert group["Type"] == "AWS::Scheduler::ScheduleGroup"
    assert function["Environment"]["Variables"]["SCHEDULE_GROUP"] == {"Ref": "UploadScheduleGroup"}


def test_the_scheduler_role_only_starts_the_training_pipeline_and_dead_letters() -> None:
    role = resources()["UploadSchedulerRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    granted = {
        (a, str(sub(s["Resource"]))) for s in statements(role["Policies"]) for a in actions(s)
    }
    dlq = str({"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]})
    assert granted == {("states:StartExecution", PIPELINE_ARN), ("sqs:SendMessage", dlq)}


def test_the_dead_letter_queue_admits_the_scheduler_role() -> None:
    policy = resources()["EventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    admitted = [
        s
        for s in policy["Statement"]
        if s["Principal"] == {"AWS": {"Fn::GetAtt": ["UploadSchedulerRole", "Arn"]}}
    ]
    assert [actions(s) for s in admitted] == [["sqs:SendMessage"]]
