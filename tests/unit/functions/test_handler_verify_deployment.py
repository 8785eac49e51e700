"""VerifyDeployment handler: `{"plan": $.plan.Payload, "endpoint": $.endpoint}`."""

import json
from typing import Any

import pytest

TARGET = "mlops-endpoint-v2-0a1b2c3d"
PREVIOUS = "mlops-endpoint-v1-99887766"


def payload(arn: str, status: str, config: str, reason: str | None = None) -> dict[str, Any]:
    plan = {
        "action": "DEPLOY",
        "reason": "approved package",
        "model_package_arn": arn,
        "version": 2,
        "endpoint_name": "mlops-endpoint",
        "endpoint_exists": True,
        "model": {"ModelName": TARGET},
        "endpoint_config": {"EndpointConfigName": TARGET},
        "deployment_config": {},
        "previous_config": PREVIOUS,
    }
    # The aws-sdk integration's DescribeEndpoint result, timestamps as JSON strings
    endpoint = {
        "EndpointName": "mlops-endpoint",
        "EndpointConfigName": config,
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-endpoint",
        "EndpointStatus": status,
        "CreationTime": "2026-01-01T00:00:00Z",
        "LastModifiedTime": "2026-01-01T00:10:00Z",
    }
    return {"plan": plan, "endpoint": endpoint | ({"FailureReason": reason} if reason else {})}


def test_in_service_on_target_returns_the_verification(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    output = handler.lambda_handler(payload(arn, "InService", TARGET), lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert output == {
        "endpoint_name": "mlops-endpoint",
        "endpoint_config_name": TARGET,
        "status": "InService",
    }


def test_rolled_back_update_rejects_the_package_and_raises_by_class_name(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload(arn, "InService", PREVIOUS, "alarm"), lambda_context)
    assert type(excinfo.value).__name__ == "DeploymentRolledBack"
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Rejected"


@pytest.mark.parametrize(
    ("status", "error"),
    [("Failed", "DeploymentFailed"), ("UpdateRollbackFailed", "UpdateRollbackFailed")],
)
def test_failed_endpoint_raises_by_class_name(
    load_handler: Any, stack: Any, lambda_context: Any, status: str, error: str
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload(arn, status, TARGET, "boom"), lambda_context)
    assert type(excinfo.value).__name__ == error


def test_rollback_pipeline_payload_reports_a_rolled_back_update_without_rejecting(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    # The RollbackPipeline sends its plan with "reject_on_rollback": false: the known-good
    # version it was deploying must stay approved.
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    request = payload(arn, "InService", PREVIOUS, "alarm") | {"reject_on_rollback": False}
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(request, lambda_context)
    assert type(excinfo.value).__name__ == "DeploymentRolledBack"
    assert str(excinfo.value).startswith("version 2 not deployed; ")
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
