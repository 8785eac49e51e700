"""SmokeTest handler: `{"plan": $.plan.Payload}`; InvokeEndpoint through a stubbed runtime client.

Payload: events/functions/smoke_test.json, for a package moto holds whose lineage names the
dataset in the stack's data bucket. moto's sagemaker-runtime answers a fixed body unless primed
through its private API, so the layer's runtime client gets a botocore Stubber, which checks
what is sent as well.
"""

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from mlops_common.adapters import client

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
KEY = "datasets/breast_cancer.csv"
ENDPOINT = "mlops-dev-endpoint"  # the sample plan's
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def smoke_handler(load_handler: Any, stack: Any, sample: Any) -> tuple[Any, dict[str, Any]]:
    """The handler, and the sample payload for a package with lineage."""
    handler = load_handler("smoke_test")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    arn = stack.create_package(
        "Approved",
        lineage={
            "dataset_uri": f"s3://{stack.data_bucket}/{KEY}",
            "dataset_version": obj["version_id"],
        },
    )
    return handler, sample("smoke_test", {"plan.model_package_arn": arn})


@contextmanager
def endpoint_answers(reply: dict[str, Any]) -> Iterator[None]:
    """InvokeEndpoint of ENDPOINT answers `reply`, once, on the runtime client the layer caches
    (the one the handler's factory returns after its cold start)."""
    body = json.dumps(reply).encode()
    with Stubber(client("sagemaker-runtime")) as runtime:
        runtime.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
            {
                "EndpointName": ENDPOINT,
                "Body": ANY,
                "ContentType": "text/csv",
                "Accept": "application/json",
            },
        )
        yield
        runtime.assert_no_pending_responses()


def test_valid_predictions_return_the_smoke_result(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any, printed: Any
) -> None:
    handler, payload = smoke_handler(load_handler, stack, sample)
    predictions = [{"label": i % 2, "probability": 0.9} for i in range(5)]
    with endpoint_answers({"predictions": predictions}):
        output = handler.lambda_handler(payload, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"endpoint_name", "rows", "predictions", "latency_ms"}
    assert (output["endpoint_name"], output["rows"]) == (ENDPOINT, 5)
    assert output["predictions"] == predictions
    out = printed()
    assert [m["SmokeTestLatency"] for m in out.metrics] == [[output["latency_ms"]]]
    # The plan carries the execution that made it: the correlation id
    assert out.correlation_ids() == {payload["plan"]["execution_name"]}


def test_wrong_prediction_count_raises_smoke_test_failed_by_class_name(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler, payload = smoke_handler(load_handler, stack, sample)
    with (
        endpoint_answers({"predictions": [{"label": 1, "probability": 0.9}]}),
        pytest.raises(Exception) as excinfo,
    ):
        handler.lambda_handler(payload, lambda_context)
    assert type(excinfo.value).__name__ == "SmokeTestFailed"
    assert "sent 5 rows" in str(excinfo.value)
