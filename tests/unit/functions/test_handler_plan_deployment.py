"""PlanDeployment handler: `{"event": $$.Execution.Input, "execution": $$.Execution}`.

The plan's requests are fed to moto's CreateModel/CreateEndpointConfig/CreateEndpoint, as the
DeployPipeline does, so botocore checks them against the SageMaker API model.
"""

import json
from typing import Any

import pytest


def approved_event(stack: Any, arn: str, version: int) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": stack.group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": "Approved",
            "LastModifiedTime": 1767225600000,
        },
    }


def deploy(stack: Any, plan: dict[str, Any]) -> None:
    """What the DeployPipeline's SageMaker tasks do with a DEPLOY plan."""
    stack.sagemaker.create_model(**plan["model"])
    stack.sagemaker.create_endpoint_config(**plan["endpoint_config"])
    if plan["endpoint_exists"]:
        stack.sagemaker.update_endpoint(
            EndpointName=plan["endpoint_name"],
            EndpointConfigName=plan["endpoint_config"]["EndpointConfigName"],
        )
    else:
        stack.sagemaker.create_endpoint(
            EndpointName=plan["endpoint_name"],
            EndpointConfigName=plan["endpoint_config"]["EndpointConfigName"],
        )


def test_first_approval_plans_a_new_endpoint_with_valid_requests(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any, asl_reads: Any
) -> None:
    # Given an approved v1 and no endpoint
    handler = load_handler("plan_deployment")
    arn = stack.create_package("Approved")
    event = approved_event(stack, arn, 1)
    # When
    output = handler.lambda_handler(
        {"event": event, "execution": sfn_execution("deploy-1", "deploy")}, lambda_context
    )
    # Then
    assert json.loads(json.dumps(output)) == output
    assert (output["action"], output["endpoint_exists"]) == ("DEPLOY", False)
    assert output["endpoint_name"] == "mlops-endpoint"
    asl_reads(output, "deploy_pipeline", "$.plan.Payload.")
    deploy(stack, output)
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="mlops-endpoint")
    assert endpoint["EndpointConfigName"] == output["endpoint_config"]["EndpointConfigName"]


def test_live_version_is_skipped_and_a_new_one_updates_the_endpoint(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    # Given v1 was deployed by deploy-1 (moto endpoints are InService at once)
    handler = load_handler("plan_deployment")
    v1 = stack.create_package("Approved")
    first = handler.lambda_handler(
        {"event": approved_event(stack, v1, 1), "execution": sfn_execution("deploy-1", "deploy")},
        lambda_context,
    )
    deploy(stack, first)
    # When v1's event is replayed, and when v2 is approved
    replay = handler.lambda_handler(
        {"event": approved_event(stack, v1, 1), "execution": sfn_execution("deploy-2", "deploy")},
        lambda_context,
    )
    v2 = stack.create_package("Approved")
    second = handler.lambda_handler(
        {"event": approved_event(stack, v2, 2), "execution": sfn_execution("deploy-3", "deploy")},
        lambda_context,
    )
    # Then
    assert (replay["action"], replay["reason"]) == (
        "SKIP",
        "version 1 is already live on mlops-endpoint",
    )
    assert (second["action"], second["endpoint_exists"]) == ("DEPLOY", True)
    assert second["previous_config"] == first["endpoint_config"]["EndpointConfigName"]


def test_unknown_package_raises_model_package_not_found_by_class_name(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("plan_deployment")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/5"
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(
            {
                "event": approved_event(stack, arn, 5),
                "execution": sfn_execution("deploy-1", "deploy"),
            },
            lambda_context,
        )
    assert type(excinfo.value).__name__ == "ModelPackageNotFound"
