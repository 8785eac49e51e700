"""CompareShadow handler: `{"plan": $.plan.Payload, "endpoint": $.endpoint}` after ShadowWindow.

The payload is events/functions/compare_shadow.json with the stack's package and a shadow test
that went InService 15 minutes ago; data capture and metrics are in moto. UpdateModelPackage
runs through the twin's registry seam (AWS semantics; moto erases fields a request omits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_common.models import ShadowComparison
from pydantic import ValidationError

from mlops.twin.sagemaker.registry import RegistrySeam

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def registry_as_aws() -> Iterator[None]:
    with RegistrySeam():
        yield


def payload(stack: Any, sample: Any, arn: str) -> dict[str, Any]:
    started = datetime.now(UTC) - timedelta(minutes=15)
    request = sample(
        "compare_shadow",
        {
            "plan.model_package_arn": arn,
            "endpoint.LastModifiedTime": started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        },
    )
    bucket = request["plan"]["shadow"]["capture_uri"].removeprefix("s3://").split("/", 1)[0]
    stack.s3.create_bucket(Bucket=bucket)
    return request


def captured(stack: Any, plan: dict[str, Any], live: list[int], shadow: list[int]) -> None:
    """Both variants' data capture of requests event-0.., answered with these labels."""
    bucket, _, prefix = plan["shadow"]["capture_uri"].removeprefix("s3://").partition("/")
    config = plan["shadow"]["endpoint_config"]
    variants = {
        config["ProductionVariants"][0]["VariantName"]: live,
        config["ShadowProductionVariants"][0]["VariantName"]: shadow,
    }
    for variant, labels in variants.items():
        lines = [
            {
                "captureData": {
                    "endpointOutput": {
                        "observedContentType": "application/json",
                        "mode": "OUTPUT",
                        "data": json.dumps({"predictions": [{"label": x, "probability": 0.9}]}),
                        "encoding": "JSON",
                    }
                },
                "eventMetadata": {"eventId": f"event-{i}", "inferenceTime": "2026-03-02T10:00:00Z"},
                "eventVersion": "0",
            }
            for i, x in enumerate(labels)
        ]
        key = f"{prefix}/{plan['endpoint_name']}/{variant}/2026/03/02/10/capture.jsonl"
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        stack.s3.put_object(Bucket=bucket, Key=key, Body=body)


def metrics(aws: Any, endpoint: str, variant: str, invocations: int, latency_us: float) -> None:
    dimensions = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": variant},
    ]
    when = datetime.now(UTC) - timedelta(minutes=5)
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": name, "Value": value, "Timestamp": when, "Dimensions": dimensions}
            for name, value in (
                ("Invocations", invocations),
                ("Invocation5XXErrors", 0),
                ("ModelLatency", latency_us),
            )
        ],
    )


def test_shadow_that_answers_like_production_is_promoted(
    load_handler: Any, stack: Any, aws: Any, sample: Any, lambda_context: Any, asl_reads: Any,
    printed: Any, registry_as_aws: None,
) -> None:  # fmt: skip
    # Given the template's thresholds (100 requests, 0.95 agreement) and a shadow test passing them
    handler = load_handler("compare_shadow")
    arn = stack.create_package("Approved")
    request = payload(stack, sample, arn)
    captured(stack, request["plan"], live=[1, 0] * 10, shadow=[1, 0] * 10)
    metrics(aws, "mlops-dev-endpoint", "AllTraffic", 150, 20_000)
    metrics(aws, "mlops-dev-endpoint", "Shadow", 150, 22_000)
    # When
    output = handler.lambda_handler(request, lambda_context)
    # Then PromoteOrDiscard finds the decision in the JSON result
    assert json.loads(json.dumps(output)) == output
    assert asl_reads(output, "deploy_pipeline", "$.shadow_result.Payload.") == {"decision"}
    comparison = ShadowComparison.model_validate(output)
    assert (comparison.decision, comparison.requests, comparison.paired) == ("PROMOTE", 150, 20)
    assert comparison.thresholds == {
        "shadow_min_requests": 100,
        "shadow_max_error_rate": 0.01,
        "shadow_min_agreement": 0.95,
        "shadow_max_latency_ratio": 1.5,
    }
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"]["shadow_decision"] == "PROMOTE"
    # The plan carries the DeployPipeline execution that made it: the correlation id
    assert printed().correlation_ids() == {request["plan"]["execution_name"]}


def test_shadow_that_disagrees_is_discarded_and_its_package_rejected(
    load_handler: Any,
    stack: Any,
    aws: Any,
    sample: Any,
    lambda_context: Any,
    registry_as_aws: None,
) -> None:
    handler = load_handler("compare_shadow", SHADOW_MIN_AGREEMENT="0.9")
    arn = stack.create_package("Approved")
    request = payload(stack, sample, arn)
    captured(stack, request["plan"], live=[1] * 10, shadow=[1] * 8 + [0] * 2)
    metrics(aws, "mlops-dev-endpoint", "AllTraffic", 150, 20_000)
    metrics(aws, "mlops-dev-endpoint", "Shadow", 150, 20_000)
    output = handler.lambda_handler(request, lambda_context)
    assert (output["decision"], output["reason"]) == ("DISCARD", "agreement 0.8000 below 0.9")
    package = stack.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == "shadow test discarded it: agreement 0.8000 below 0.9"


def test_request_without_the_plan_is_refused_by_the_parser(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("compare_shadow")
    request = sample("compare_shadow")
    del request["plan"]
    with pytest.raises(ValidationError) as excinfo:
        handler.lambda_handler(request, lambda_context)
    assert [(e["type"], e["loc"]) for e in excinfo.value.errors()] == [("missing", ("plan",))]
