"""SmokeTest handler: `{"plan": $.plan.Payload}`; InvokeEndpoint through a stubbed runtime client.

moto's sagemaker-runtime answers a fixed body unless primed through its private API, so the
runtime client is a botocore Stubber that checks what is sent as well.
"""

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
KEY = "datasets/breast_cancer.csv"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def runtime(stack: Any) -> Iterator[Stubber]:
    client = boto3.client("sagemaker-runtime")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answer(stubber: Stubber, reply: dict[str, Any]) -> None:
    body = json.dumps(reply).encode()
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
        {
            "EndpointName": "mlops-endpoint",
            "Body": ANY,
            "ContentType": "text/csv",
            "Accept": "application/json",
        },
    )


def smoke_handler(
    load_handler: Any, stack: Any, runtime: Stubber, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, Any]]:
    """The handler, with its runtime client stubbed, and a plan for a package with lineage."""
    handler = load_handler("smoke_test")
    real_client = handler.client
    monkeypatch.setattr(
        handler,
        "client",
        lambda service: runtime.client if service == "sagemaker-runtime" else real_client(service),
    )
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    arn = stack.create_package(
        "Approved",
        lineage={
            "dataset_uri": f"s3://{stack.data_bucket}/{KEY}",
            "dataset_version": obj["version_id"],
        },
    )
    plan = {
        "action": "DEPLOY",
        "reason": "approved package",
        "model_package_arn": arn,
        "version": 1,
        "endpoint_name": "mlops-endpoint",
    }
    return handler, plan


def test_valid_predictions_return_the_smoke_result(
    load_handler: Any,
    stack: Any,
    runtime: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> None:
    handler, plan = smoke_handler(load_handler, stack, runtime, monkeypatch)
    predictions = [{"label": i % 2, "probability": 0.9} for i in range(5)]
    answer(runtime, {"predictions": predictions})
    output = handler.lambda_handler({"plan": plan}, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"endpoint_name", "rows", "predictions", "latency_ms"}
    assert (output["endpoint_name"], output["rows"]) == ("mlops-endpoint", 5)
    assert output["predictions"] == predictions


def test_wrong_prediction_count_raises_smoke_test_failed_by_class_name(
    load_handler: Any,
    stack: Any,
    runtime: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> None:
    handler, plan = smoke_handler(load_handler, stack, runtime, monkeypatch)
    answer(runtime, {"predictions": [{"label": 1, "probability": 0.9}]})
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler({"plan": plan}, lambda_context)
    assert type(excinfo.value).__name__ == "SmokeTestFailed"
    assert "sent 5 rows" in str(excinfo.value)
