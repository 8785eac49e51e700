"""The AWS-only paths: the stack found from its name through CloudFormation, the operator's
identity from STS, and AWS errors that mean "who you are" turned into exit code 3 — against
moto's CloudFormation and STS, and botocore's Stubber where moto cannot fail that way."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.stub import Stubber

from mlops.cli.common import Context
from mlops.control.aws import AwsTarget, translate
from mlops.control.errors import NoCredentials, NotFound
from mlops.control.stack import describe_stack

TEMPLATE = {
    "Parameters": {"Environment": {"Type": "String", "Default": "dev"}},
    "Resources": {"EventsDeadLetterQueue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "EndpointName": {"Value": "mlops-dev-endpoint"},
        "QueueArn": {"Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}},
    },
}


def test_a_stack_is_read_from_its_name_outputs_parameters_and_resources(aws):
    aws.client("cloudformation").create_stack(
        StackName="mlops-dev",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": "staging"}],
    )
    stack = describe_stack(AwsTarget().client("cloudformation"), "mlops-dev")
    assert stack.status == "CREATE_COMPLETE"
    assert stack.outputs["EndpointName"] == "mlops-dev-endpoint"
    assert stack.outputs["QueueArn"].startswith("arn:aws:sqs:us-east-1:")
    assert stack.parameters == {"Environment": "staging"}
    queue = stack.resource("EventsDeadLetterQueue")
    assert queue.type == "AWS::SQS::Queue" and queue.physical_id.startswith("http")
    with pytest.raises(NotFound, match="stack mlops-dev has no output RollbackPipelineArn"):
        stack.output("RollbackPipelineArn")


def test_no_such_stack_is_one_line_and_exit_code_4(aws, mlops):
    result = mlops("status", "--stack-name", "no-such-stack")
    assert result.code == 4, result
    assert result.err == "mlops: no such stack: no-such-stack (region us-east-1)\n"
    assert result.out == ""


def test_json_output_carries_the_error_and_its_exit_code_too(aws, mlops):
    result = mlops("versions", "--stack-name", "no-such-stack", "--json")
    assert result.code == 4
    assert result.json == {
        "error": "no such stack: no-such-stack (region us-east-1)",
        "exit_code": 4,
    }


def test_the_config_env_names_the_stack_and_region_samconfig_deploys(aws, mlops):
    result = mlops("status", "--config-env", "staging")
    assert result.code == 4, result
    assert "no such stack: mlops-staging (region eu-west-1)" in result.err


def test_the_operators_identity_is_the_callers_arn_from_sts(aws):
    assert AwsTarget().identity == "arn:aws:sts::123456789012:user/moto"


def test_access_denied_means_credentials_exit_code_3():
    target = AwsTarget(region="us-east-1")
    cloudformation = target.client("cloudformation")
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:iam::1:user/bob is not authorized to perform: "
            "cloudformation:DescribeStacks",
            http_status_code=403,
        )
        with pytest.raises(Exception) as raised:
            describe_stack(cloudformation, "mlops-dev")
    error = translate(raised.value)
    assert isinstance(error, NoCredentials) and error.exit_code == 3
    assert str(error).startswith("DescribeStacks: AccessDenied: User: arn:aws:iam::1:user/bob")


def _closed_loopback_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """An environment in which the credential chain finds nothing (and asks no instance
    metadata service: that would leave the machine)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_no_credentials_is_one_line_and_exit_code_3(no_credentials, mlops):
    result = mlops(
        "status",
        "--stack-name",
        "s",
        "--region",
        "us-east-1",
        "--endpoint-url",
        _closed_loopback_url(),
    )
    assert result.code == 3, result
    assert result.err.startswith("mlops: no usable AWS credentials")
    assert len(result.err.splitlines()) == 1


def test_an_unknown_profile_is_exit_code_3(no_credentials, mlops):
    result = mlops("status", "--stack-name", "s", "--profile", "nobody")
    assert result.code == 3, result
    assert "nobody" in result.err


def test_a_stack_name_is_needed_when_no_samconfig_names_one(aws, mlops, tmp_path):
    result = mlops("status", "--config-file", str(tmp_path / "none.toml"))
    assert result.code == 2, result
    assert "no stack name: pass --stack-name" in result.err


def test_context_reads_the_region_of_the_config_env_before_the_environment(aws, monkeypatch):
    args = type("Args", (), {})()
    for key, value in {
        "config_file": "samconfig.toml",
        "config_env": "prod",
        "stack_name": None,
        "region": None,
        "profile": None,
        "endpoint_url": None,
        "json": False,
    }.items():
        setattr(args, key, value)
    with pytest.raises(NotFound, match=r"mlops-prod \(region eu-west-1\)"):
        Context(args).plane  # noqa: B018 - resolving the plane is the behaviour under test
