"""PlanRollback handler: `{"request": $$.Execution.Input, "execution": $$.Execution}`.

Payload: events/functions/plan_rollback.json, an operator's request, started as rollback-1.
The live endpoint is a real moto endpoint (InService at once) whose config is named as the
DeployPipeline names it; the ROLLBACK plan's requests are fed back to moto, as the
RollbackPipeline's SageMaker tasks do.
"""

import json
from typing import Any

import pytest
from mlops_common.domain.deployment import resource_name

ENDPOINT = "mlops-endpoint"  # ENDPOINT_NAME in the functions' test environment
OPERATOR = {"request.operator.reason": "complaints about v2"}  # alice@example.com asks
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def serve(stack: Any, version: int, arn: str) -> str:
    """Puts `version` live on the endpoint, as a DeployPipeline execution would have."""
    name = resource_name(ENDPOINT, version, f"deploy-{version}")
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    container = package["InferenceSpecification"]["Containers"][0]
    stack.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/mlops-sagemaker",
        PrimaryContainer={"Image": container["Image"], "ModelDataUrl": container["ModelDataUrl"]},
    )
    stack.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    stack.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    return name


@pytest.fixture
def invoke(sample: Any, sfn_execution: Any, lambda_context: Any) -> Any:
    """invoke(handler, {"request.operator.reason": ...}): the sample, so changed, as the
    input of execution rollback-1 (started with the request)."""

    def run(handler: Any, changes: dict[str, Any]) -> dict[str, Any]:
        execution = sfn_execution("rollback-1", "rollback")
        payload = sample("plan_rollback", {"execution": execution, **changes})
        payload["execution"]["Input"] = payload["request"]
        return handler.lambda_handler(payload, lambda_context)

    return run


def test_operator_request_plans_a_rollback_the_pipeline_can_run(
    load_handler: Any, stack: Any, invoke: Any, asl_reads: Any, printed: Any
) -> None:
    # Given v1 and v2 approved, v2 live
    handler = load_handler("plan_rollback")
    v1 = stack.create_package("Approved")
    v2 = stack.create_package("Approved")
    live = serve(stack, 2, v2)
    # When an operator asks for a rollback
    output = invoke(handler, OPERATOR)
    # Then the plan goes back to v1, and every path the RollbackPipeline reads is there
    assert json.loads(json.dumps(output)) == output
    assert {k: output[k] for k in ("action", "trigger", "requested_by", "reason")} == {
        "action": "ROLLBACK",
        "trigger": "operator",
        "requested_by": "alice@example.com",
        "reason": "complaints about v2; rolling back from version 2 to 1",
    }
    assert (output["model_package_arn"], output["version"]) == (v1, 1)
    assert (output["from_version"], output["from_package_arn"], output["previous_config"]) == (
        2,
        v2,
        live,
    )
    assert output["endpoint_name"] == ENDPOINT
    assert output["model"]["ExecutionRoleArn"] == (
        "arn:aws:iam::123456789012:role/mlops-sagemaker"  # SAGEMAKER_ROLE_ARN
    )
    asl_reads(output, "rollback_pipeline", "$.plan.Payload.")
    # And CreateModel/CreateEndpointConfig accept the requests as they are
    stack.sagemaker.create_model(**output["model"])
    stack.sagemaker.create_endpoint_config(**output["endpoint_config"])
    config = stack.sagemaker.describe_endpoint_config(
        EndpointConfigName=output["endpoint_config"]["EndpointConfigName"]
    )
    assert config["ProductionVariants"][0]["ModelName"] == output["model"]["ModelName"]
    # And the plan names its execution, the correlation id of every later step
    assert output["execution_name"] == "rollback-1"
    assert printed().correlation_ids() == {"rollback-1"}


def test_only_the_live_version_approved_plans_nothing(
    load_handler: Any, stack: Any, invoke: Any
) -> None:
    handler = load_handler("plan_rollback")
    v1 = stack.create_package("Approved")
    serve(stack, 1, v1)
    output = invoke(handler, OPERATOR)
    assert output["action"] == "NOTHING"
    # NothingToRollBack's Cause is the plan's reason
    assert output["reason"] == (
        "complaints about v2; no approved version older than the live one (1) exists, "
        "so the endpoint keeps serving it"
    )


def test_no_endpoint_plans_a_skip(load_handler: Any, stack: Any, invoke: Any) -> None:
    handler = load_handler("plan_rollback")
    stack.create_package("Approved")
    output = invoke(handler, OPERATOR)
    assert (output["action"], output["reason"]) == (
        "SKIP",
        f"complaints about v2; {ENDPOINT} does not exist: nothing is live",
    )


@pytest.mark.parametrize(
    "request_",
    [{"operator": {"requested_by": "alice@example.com"}}, {"source": "aws.s3", "detail": {}}],
    ids=["operator-without-reason", "unknown-event"],
)
def test_malformed_request_raises_event_malformed_by_class_name(
    load_handler: Any, stack: Any, invoke: Any, request_: dict
) -> None:
    handler = load_handler("plan_rollback")
    with pytest.raises(Exception) as excinfo:
        invoke(handler, {"request": request_})
    assert type(excinfo.value).__name__ == "EventMalformed"
