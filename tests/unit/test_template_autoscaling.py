"""template.yaml wires autoscaling with least privilege: only ConfigureScaling touches
Application Auto Scaling, it may create no service-linked role but SageMaker's scaling one, it
reads and scales only the stack's endpoint, and both pipelines call it around their updates."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {
    "AutoScaling": "AUTO_SCALING",
    "AutoScalingMinInstances": "AUTO_SCALING_MIN_INSTANCES",
    "AutoScalingMaxInstances": "AUTO_SCALING_MAX_INSTANCES",
    "AutoScalingTargetInvocations": "AUTO_SCALING_TARGET_INVOCATIONS",
    "AutoScalingScaleOutCooldown": "AUTO_SCALING_SCALE_OUT_COOLDOWN",
    "AutoScalingScaleInCooldown": "AUTO_SCALING_SCALE_IN_COOLDOWN",
}


@cache
def template() -> dict[str, Any]:
    return json.loads(json.dumps(load_cfn_yaml(str(ROOT / "template.yaml"))))


def statements(name: str) -> list[dict[str, Any]]:
    policies = template()["Resources"][name]["Properties"].get("Policies", [])
    documents = [p.get("PolicyDocument", p) for p in policies if isinstance(p, dict)]
    return [s for d in documents for s in d.get("Statement", [])]


def actions(statement: dict[str, Any]) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def test_every_parameter_reaches_configure_scaling_and_autoscaling_is_off_by_default() -> None:
    function = template()["Resources"]["ConfigureScalingFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert {name: variables[env] for name, env in PARAMETERS.items()} == {
        name: {"Ref": name} for name in PARAMETERS
    }
    assert template()["Parameters"]["AutoScaling"]["Default"] == "false"
    assert template()["Parameters"]["AutoScalingMinInstances"]["MinValue"] == 1


def test_only_configure_scaling_may_call_application_auto_scaling() -> None:
    callers = {
        name
        for name, resource in template()["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::IAM::Role")
        for statement in statements(name)
        if any(a.startswith("application-autoscaling:") for a in actions(statement))
    }
    assert callers == {"ConfigureScalingFunction"}
    [granted] = [
        s
        for s in statements("ConfigureScalingFunction")
        if any(a.startswith("application-autoscaling:") for a in actions(s))
    ]
    assert not any("*" in a for a in actions(granted))  # named actions, no wildcard


def test_the_only_service_linked_role_it_may_create_is_sagemaker_scaling_s() -> None:
    [statement] = [
        s for s in statements("ConfigureScalingFunction") if "iam:CreateServiceLinkedRole" in
        actions(s)
    ]  # fmt: skip
    assert actions(statement) == {"iam:CreateServiceLinkedRole"}
    assert statement["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    assert statement["Resource"]["Fn::Sub"].endswith(
        "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )


def test_it_reads_and_scales_only_the_stack_s_endpoint() -> None:
    [statement] = [
        s
        for s in statements("ConfigureScalingFunction")
        if any(a.startswith("sagemaker:") for a in actions(s))
    ]
    assert "sagemaker:UpdateEndpointWeightsAndCapacities" in actions(statement)
    assert [r["Fn::Sub"].split("${AWS::AccountId}:")[1] for r in statement["Resource"]] == [
        "endpoint/${AWS::StackName}-endpoint",
        "endpoint-config/${AWS::StackName}-endpoint-*",
    ]


def test_both_pipelines_may_invoke_it_and_name_it_in_their_definitions() -> None:
    for machine in ("DeployPipeline", "RollbackPipeline"):
        props = template()["Resources"][machine]["Properties"]
        assert props["DefinitionSubstitutions"]["ConfigureScalingFunctionArn"] == {
            "Fn::GetAtt": ["ConfigureScalingFunction", "Arn"]
        }
        assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "ConfigureScalingFunction"}}} in (
            props["Policies"]
        )
