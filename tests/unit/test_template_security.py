"""Security properties of template.yaml that no deployment error would reveal.

Each rule below is a defect that deploys cleanly and fails silently later (an alarm that never
notifies, a job that can rewrite the code later jobs run, a deleted audit trail), so each is
checked on the template itself. The checkers are plain functions; the tests also show that each
one rejects the defect it exists for, so none of them can pass vacuously.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Who publishes to an SNS topic for each kind of producer in a template.
ALARM_PUBLISHER = "cloudwatch.amazonaws.com"
RULE_PUBLISHER = "events.amazonaws.com"
KMS_ACTIONS_TO_PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey")


@cache
def _template() -> dict[str, Any]:
    return load_cfn_yaml(str(TEMPLATE))


def template() -> dict[str, Any]:
    return copy.deepcopy(_template())


def _ref(value: Any) -> str | None:
    """The logical id a Ref / GetAtt points at, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(statement: dict[str, Any], service: str, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principals = _as_list(statement.get("Principal", {}).get("Service", []))
    if service not in principals:
        return False
    return any(
        granted == action or (granted.endswith("*") and action.startswith(granted[:-1]))
        for granted in _as_list(statement.get("Action", []))
    )


# ------------------------------------------------------------------ SNS publishers


def sns_publishers(tpl: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(producer, topic logical id, publishing service) for every alarm action and rule target
    that is an SNS topic of this template."""
    resources = tpl["Resources"]
    topics = {k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}
    found = []
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                for action in props.get(key, []):
                    if _ref(action) in topics:
                        found.append((name, _ref(action), ALARM_PUBLISHER))
        targets: list[Any] = []
        if resource["Type"] == "AWS::Events::Rule":
            targets = props.get("Targets", [])
        for target in targets:
            if _ref(target.get("Arn")) in topics:
                found.append((name, _ref(target["Arn"]), RULE_PUBLISHER))
    return found


def publisher_problems(tpl: dict[str, Any]) -> list[str]:
    resources = tpl["Resources"]
    problems = []
    for producer, topic, service in sns_publishers(tpl):
        key_ref = resources[topic]["Properties"].get("KmsMasterKeyId")
        key = _ref(key_ref)
        if key is None or resources.get(key, {}).get("Type") != "AWS::KMS::Key":
            problems.append(
                f"{producer} -> {topic}: encrypted with {key_ref!r}, not a key of this stack "
                f"whose policy can grant {service}"
            )
            continue
        statements = resources[key]["Properties"]["KeyPolicy"]["Statement"]
        for action in KMS_ACTIONS_TO_PUBLISH:
            if not any(_allows(s, service, action) for s in statements):
                problems.append(
                    f"{producer} -> {topic}: key {key} does not allow {service} {action}"
                )
    return problems


def test_the_stack_has_sns_publishers_to_check():
    producers = {producer for producer, _, _ in sns_publishers(template())}
    assert {"EndpointErrorAlarm", "DeadLetterAlarm"} <= producers


def test_every_sns_publisher_can_use_the_topic_key():
    assert publisher_problems(template()) == []


def test_the_aws_managed_sns_key_is_refused_for_alarm_topics():
    tpl = template()
    tpl["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    assert any("alias/aws/sns" in p for p in publisher_problems(tpl))


def test_a_rule_target_topic_needs_eventbridge_in_the_key_policy():
    tpl = template()
    tpl["Resources"]["NotifyRule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {"Targets": [{"Id": "t", "Arn": {"Ref": "NotificationTopic"}}]},
    }
    key = _ref(tpl["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"])
    policy = tpl["Resources"][key]["Properties"]["KeyPolicy"]
    assert publisher_problems(tpl) == []
    policy["Statement"] = [
        s for s in policy["Statement"] if not _allows(s, RULE_PUBLISHER, "kms:Decrypt")
    ]
    assert publisher_problems(tpl) == [
        f"NotifyRule -> NotificationTopic: key {key} does not allow {RULE_PUBLISHER} {action}"
        for action in KMS_ACTIONS_TO_PUBLISH
    ]


# ------------------------------------------------------------------ data kept, ledger not deleted

RETAINED_TYPES = ("AWS::S3::Bucket", "AWS::DynamoDB::Table")


def test_buckets_and_the_ledger_survive_stack_deletion_and_replacement():
    resources = template()["Resources"]
    stores = [k for k, r in resources.items() if r["Type"] in RETAINED_TYPES]
    assert {"DataBucket", "ArtifactsBucket", "LedgerTable"} <= set(stores)
    for name in stores:
        assert resources[name].get("DeletionPolicy") == "Retain", name
        assert resources[name].get("UpdateReplacePolicy") == "Retain", name


def test_no_function_may_delete_ledger_items():
    resources = template()["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            assert "DynamoDBCrudPolicy" not in policy, f"{name}: CRUD includes DeleteItem"
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = _as_list(statement.get("Action", []))
                assert not any(a in ("dynamodb:DeleteItem", "dynamodb:*") for a in actions), name


# ------------------------------------------------------------------ SageMaker roles


def _role_statements(name: str) -> list[dict[str, Any]]:
    role = template()["Resources"][name]["Properties"]
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _writes(statement: dict[str, Any]) -> bool:
    return any(a in ("s3:PutObject", "s3:*", "s3:Put*") for a in _as_list(statement["Action"]))


def _resource_text(statement: dict[str, Any]) -> str:
    return repr(statement.get("Resource"))


def code_writers(statements: list[dict[str, Any]]) -> list[str]:
    """Resources under code/ (or whole buckets) that a statement lets its role write."""
    return [
        _resource_text(s)
        for s in statements
        if _writes(s) and ("code/" in _resource_text(s) or "Arn}/*" in _resource_text(s))
    ]


@pytest.mark.parametrize("role", ["SageMakerJobsRole", "SageMakerHostingRole"])
def test_no_sagemaker_role_can_write_code_versions(role):
    statements = _role_statements(role)
    assert code_writers(statements) == []
    # A bucket-wide write (the old single role's) would be caught:
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": {"Fn::Sub": "${ArtifactsBucket.Arn}/*"},
        }
    )
    assert code_writers(statements) != []


def test_hosting_role_only_reads_model_artifacts_and_code():
    reads = [s for s in _role_statements("SageMakerHostingRole") if "s3:GetObject" in s["Action"]]
    assert reads and all("DataBucket" not in _resource_text(s) for s in reads)


def test_job_permissions_are_scoped_to_this_stacks_job_names():
    machine = template()["Resources"]["TrainingPipeline"]["Properties"]
    statements = [
        s for p in machine["Policies"] if isinstance(p, dict) for s in p.get("Statement", [])
    ]
    (jobs,) = [s for s in statements if "sagemaker:CreateTrainingJob" in s["Action"]]
    for resource in jobs["Resource"]:
        arn, variables = resource["Fn::Sub"]
        assert arn.endswith("/mlops-${StackToken}-*"), arn
        assert "AWS::StackId" in repr(variables["StackToken"])
    prepare = template()["Resources"]["PrepareCandidateFunction"]["Properties"]
    assert (
        prepare["Environment"]["Variables"]["JOB_NAME_PREFIX"]["Fn::Sub"][0]
        == "mlops-${StackToken}"
    )


# ------------------------------------------------------------------ logs


def test_every_function_logs_to_a_group_with_retention():
    resources = template()["Resources"]
    functions = [k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) >= 10
    for name in functions:
        group = _ref(resources[name]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        assert group is not None, f"{name} has no LoggingConfig.LogGroup"
        assert resources[group]["Type"] == "AWS::Logs::LogGroup"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_state_machine_logs_errors_without_execution_data_by_default():
    tpl = template()
    resources, parameters = tpl["Resources"], tpl["Parameters"]
    machines = [k for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"]
    assert len(machines) == 4
    assert parameters["WorkflowLogLevel"]["Default"] in ("ERROR", "ALL")
    assert "OFF" not in parameters["WorkflowLogLevel"]["AllowedValues"]
    assert parameters["WorkflowLogExecutionData"]["Default"] == "false"
    for name in machines:
        logging = resources[name]["Properties"]["Logging"]
        assert logging["Level"] == {"Ref": "WorkflowLogLevel"}
        assert logging["IncludeExecutionData"] == {"Fn::If": ["LogExecutionData", True, False]}
        (destination,) = logging["Destinations"]
        group = _ref(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ------------------------------------------------------------------ data the jobs read


def _function_statements(name: str) -> list[dict[str, Any]]:
    policies = template()["Resources"][name]["Properties"]["Policies"]
    return [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]


def data_bucket_readers(statements: list[dict[str, Any]]) -> list[str]:
    """Statements that let their role read or list the data bucket."""
    return [
        s.get("Sid", repr(s["Action"]))
        for s in statements
        if any(a.startswith(("s3:Get", "s3:List")) for a in _as_list(s["Action"]))
        and "DataBucket" in _resource_text(s)
    ]


def test_training_and_evaluation_jobs_cannot_read_the_data_bucket():
    # A job reads the snapshot its run made of the validated version (runs/<run id>/data/);
    # read access to the uploaded keys is what let a look-alike key or an overwrite in.
    statements = _role_statements("SageMakerJobsRole")
    assert data_bucket_readers(statements) == []
    statements.append(
        {
            "Sid": "ReadDatasets",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": {"Fn::Sub": "${DataBucket.Arn}/${DataPrefix}*"},
        }
    )
    assert data_bucket_readers(statements) == ["ReadDatasets"]


def test_validate_dataset_reads_only_the_data_prefix_and_writes_only_run_snapshots():
    properties = template()["Resources"]["ValidateDatasetFunction"]["Properties"]
    assert not [p for p in properties["Policies"] if "S3ReadPolicy" in p]  # the whole bucket
    statements = {
        s.get("Sid", repr(s["Action"])): s for s in _function_statements("ValidateDatasetFunction")
    }
    reads = statements["ReadDatasetVersions"]
    assert set(reads["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert reads["Resource"] == {"Fn::Sub": "${DataBucket.Arn}/${DataPrefix}*"}
    writes = [s for s in statements.values() if _writes(s)]
    assert [s["Resource"] for s in writes] == [{"Fn::Sub": "${ArtifactsBucket.Arn}/runs/*"}]
    assert properties["Environment"]["Variables"]["ARTIFACTS_BUCKET"] == {"Ref": "ArtifactsBucket"}


def test_every_rule_target_retries_into_the_dead_letter_queue_its_policy_admits():
    resources = template()["Resources"]
    events = {
        f"{machine}{name}": event["Properties"]
        for machine, r in resources.items()
        if r["Type"] == "AWS::Serverless::StateMachine"
        for name, event in r["Properties"].get("Events", {}).items()
    }
    assert "TrainingPipelineRetrainRequested" in events
    events |= {  # rules written out (NewDataset targets RecordUpload, not a state machine)
        f"{logical}:{target['Id']}": target
        for logical, r in resources.items()
        if r["Type"] == "AWS::Events::Rule" and r["Properties"]["EventBusName"] != "default"
        for target in r["Properties"]["Targets"]
    }
    assert "TrainingPipelineNewDataset:record-upload" in events
    statement = resources["EventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]
    admitted = {_ref(arn) for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]}
    for name, properties in events.items():
        assert _ref(properties["DeadLetterConfig"]["Arn"]) == "EventsDeadLetterQueue", name
        assert properties["RetryPolicy"]["MaximumRetryAttempts"] > 0, name
        assert name.split(":")[0] in admitted, f"{name} is not in the DLQ's queue policy"
