"""Conformance of the twin's core: provisioning from template.yaml, the gateway's Lambda
contract, S3 events and bucket policies, and replays — each against what AWS documents."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.cloudformation.template import TemplateError
from mlops.twin.stack import ROOT, STACK_NAME, twin_parameters

pytestmark = pytest.mark.twin


@pytest.fixture(scope="module")
def stack(local_cloud):
    return Provisioner(
        local_cloud.client, local_cloud.runtime, ROOT, local_cloud.account, local_cloud.region
    ).deploy(STACK_NAME, ROOT / "template.yaml", twin_parameters(local_cloud.region))


def test_every_template_resource_is_created_with_its_outputs(stack, local_cloud):
    assert set(stack.types.values()) >= {
        "AWS::S3::Bucket",
        "AWS::Events::EventBus",
        "AWS::Events::Archive",
        "AWS::Events::Rule",
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::SNS::Topic",
        "AWS::DynamoDB::Table",
    }
    names = {f["FunctionName"] for f in local_cloud.client("lambda").list_functions()["Functions"]}
    assert {spec.name for spec in stack.functions.values()} <= names
    machine = local_cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs["DeployPipelineArn"]
    )
    definition = json.loads(machine["definition"])
    assert "${" not in machine["definition"], "every DefinitionSubstitution is resolved"
    assert "'1'" in definition["States"]["LoadSettings"]["Parameters"]["poll_seconds.$"]


def test_functions_keep_the_template_environment_timeout_and_memory(stack):
    spec = stack.functions["ValidateDatasetFunction"]
    assert spec.environment["DATA_PREFIX"] == "datasets/"
    assert spec.environment["MODEL_PACKAGE_GROUP"] == f"{STACK_NAME}-models"
    assert (spec.timeout_s, spec.memory_mb) == (60, 512)
    assert spec.code_dir == ROOT / "functions" / "validate_dataset"


def test_an_unknown_resource_type_fails_provisioning_by_name(local_cloud, tmp_path: Path):
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Thing:\n    Type: AWS::Fancy::Thing\n")
    with pytest.raises(TemplateError, match="Thing: the twin cannot create AWS::Fancy::Thing"):
        Provisioner(
            local_cloud.client,
            local_cloud.runtime,
            tmp_path,
            local_cloud.account,
            local_cloud.region,
        ).deploy("other", template, {})


def test_lambda_errors_follow_the_lambda_contract_over_http(stack, local_cloud):
    # A payload that is not an S3 event makes the handler raise its domain error.
    response = local_cloud.client("lambda").invoke(
        FunctionName=stack.functions["ValidateDatasetFunction"].name,
        Payload=json.dumps(
            {"event": {"source": "nope"}, "execution": {"Name": "x", "Id": "arn:x"}}
        ).encode(),
    )
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "EventMalformed"
    assert "not an S3 Object Created event" in body["errorMessage"]


def test_s3_object_created_reaches_only_the_default_bus_in_the_aws_shape(stack, local_cloud):
    # Given a capture rule on the default bus and one on the stack bus, matching any S3 event,
    sqs, events = local_cloud.client("sqs"), local_cloud.client("events")
    queues = {}
    for bus in ("default", stack.outputs["EventBusName"]):
        url = sqs.create_queue(QueueName=f"capture-{len(queues)}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name=f"capture-{len(queues)}",
            EventBusName=bus,
            EventPattern=json.dumps(
                {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "elsewhere/"}]}}}
            ),
        )
        events.put_targets(
            Rule=f"capture-{len(queues)}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}]
        )
        queues[bus] = url
    # when an object is created outside the data prefix,
    local_cloud.client("s3").put_object(
        Bucket=stack.outputs["DataBucketName"], Key="elsewhere/a.csv", Body=b"x"
    )
    time.sleep(0.5)
    # then only the default bus sees it, with a fresh id, an ISO time and `etag`.
    (message,) = sqs.receive_message(QueueUrl=queues["default"])["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["object"]["etag"] and "eTag" not in event["detail"]["object"]
    assert event["detail"]["reason"] == "PutObject"
    datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    assert "Messages" not in sqs.receive_message(QueueUrl=queues[stack.outputs["EventBusName"]])


def test_deny_non_tls_bucket_policy_lets_loopback_clients_in_and_still_denies(stack, local_cloud):
    s3 = local_cloud.client("s3")
    bucket = stack.outputs["ArtifactsBucketName"]
    s3.put_object(Bucket=bucket, Key="probe", Body=b"ok")  # the template's policy allows it
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    deny_all = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/locked/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(policy | {"Statement": policy["Statement"] + [deny_all]})
    )
    try:
        with pytest.raises(ClientError):
            s3.put_object(Bucket=bucket, Key="locked/x", Body=b"no")
        s3.put_object(Bucket=bucket, Key="open/x", Body=b"yes")
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def test_replay_honours_the_time_window_and_filter_arns(stack, local_cloud):
    events, sqs = local_cloud.client("events"), local_cloud.client("sqs")
    bus = stack.outputs["EventBusName"]
    archive = events.describe_archive(ArchiveName=stack.outputs["EventArchiveName"])
    captured = {}
    for name in ("wanted", "unwanted"):
        url = sqs.create_queue(QueueName=f"replay-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule_arn = events.put_rule(
            Name=f"replay-{name}",
            EventBusName=bus,
            EventPattern=json.dumps({"source": ["test.replay"]}),
        )["RuleArn"]
        events.put_targets(
            Rule=f"replay-{name}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}]
        )
        captured[name] = (url, rule_arn)
    events.put_events(
        Entries=[{"Source": "test.replay", "DetailType": "t", "Detail": "{}", "EventBusName": bus}]
    )
    time.sleep(0.5)
    for url, _ in captured.values():  # drain the live delivery
        sqs.receive_message(QueueUrl=url)
    now = datetime.now(UTC)
    events.start_replay(
        ReplayName="old-window",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=now - timedelta(days=2),
        EventEndTime=now - timedelta(days=1),
        Destination={"Arn": archive["EventSourceArn"]},
    )
    events.start_replay(
        ReplayName="filtered",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=now - timedelta(hours=1),
        EventEndTime=now + timedelta(minutes=1),
        Destination={"Arn": archive["EventSourceArn"], "FilterArns": [captured["wanted"][1]]},
    )
    time.sleep(0.5)
    messages = sqs.receive_message(QueueUrl=captured["wanted"][0], MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"])["replay-name"] for m in messages] == ["filtered"]
    assert "Messages" not in sqs.receive_message(QueueUrl=captured["unwanted"][0])


def test_approving_a_package_keeps_its_lineage(stack, local_cloud):
    # AWS adds/updates the properties given and keeps the rest; moto replaced them with None.
    sagemaker = local_cloud.client("sagemaker")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=stack.outputs["ModelPackageGroupName"],
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"dataset_uri": "s3://b/k.csv", "candidate": "rf"},
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"x": "1"},
        CustomerMetadataPropertiesToRemove=["candidate"],
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"dataset_uri": "s3://b/k.csv", "x": "1"}
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "looks good"
