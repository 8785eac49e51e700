"""VerifyDeployment handler: `{"plan": $.plan.Payload, "endpoint": $.endpoint}`.

Payload: events/functions/verify_deployment.json (v3 rolled out over v2), for a package moto
holds; each case sets how DescribeEndpoint found the endpoint.
"""

import json
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def described(sample: Any) -> Any:
    """described(arn, "InService", on="previous", reason="alarm"): the sample's plan for
    package `arn`, and the endpoint in that status on the plan's target or previous config."""

    def payload(
        arn: str, status: str, on: str = "target", reason: str | None = None
    ) -> dict[str, Any]:
        changed = {"plan.model_package_arn": arn, "endpoint.EndpointStatus": status}
        payload = sample("verify_deployment", changed)
        plan, endpoint = payload["plan"], payload["endpoint"]
        target = plan["endpoint_config"]["EndpointConfigName"]
        endpoint["EndpointConfigName"] = target if on == "target" else plan["previous_config"]
        if reason:
            endpoint["FailureReason"] = reason
        return payload

    return payload


def test_in_service_on_target_returns_the_verification(
    load_handler: Any, stack: Any, described: Any, lambda_context: Any, printed: Any
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    payload = described(arn, "InService")
    output = handler.lambda_handler(payload, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert output == {
        "endpoint_name": "mlops-dev-endpoint",
        "endpoint_config_name": "mlops-dev-endpoint-v3-7b7ad2dd",
        "status": "InService",
    }
    # The plan carries the DeployPipeline execution that made it: the correlation id
    assert printed().correlation_ids() == {payload["plan"]["execution_name"]}


def test_rolled_back_update_rejects_the_package_and_raises_by_class_name(
    load_handler: Any, stack: Any, described: Any, lambda_context: Any
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(described(arn, "InService", "previous", "alarm"), lambda_context)
    assert type(excinfo.value).__name__ == "DeploymentRolledBack"
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Rejected"


@pytest.mark.parametrize(
    ("status", "error"),
    [("Failed", "DeploymentFailed"), ("UpdateRollbackFailed", "UpdateRollbackFailed")],
)
def test_failed_endpoint_raises_by_class_name(
    load_handler: Any, stack: Any, described: Any, lambda_context: Any, status: str, error: str
) -> None:
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(described(arn, status, reason="boom"), lambda_context)
    assert type(excinfo.value).__name__ == error


def test_rollback_pipeline_payload_reports_a_rolled_back_update_without_rejecting(
    load_handler: Any, stack: Any, described: Any, lambda_context: Any
) -> None:
    # The RollbackPipeline sends its plan with "reject_on_rollback": false: the known-good
    # version it was deploying must stay approved.
    handler = load_handler("verify_deployment")
    arn = stack.create_package("Approved")
    request = described(arn, "InService", "previous", "alarm") | {"reject_on_rollback": False}
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(request, lambda_context)
    assert type(excinfo.value).__name__ == "DeploymentRolledBack"
    assert str(excinfo.value).startswith("version 3 not deployed; ")
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
