"""smoke_test: rows of the model's own dataset version sent to the endpoint, predictions checked."""

import csv
import io
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.domain.smoke import smoke_test
from mlops_common.errors import ModelPackageNotFound, SmokeTestFailed
from mlops_common.models import DeployPlan, SmokeTestOutput

ENDPOINT = "mlops-endpoint"
KEY = "datasets/breast_cancer.csv"


class FakeEndpoints:
    """Stands in for the Endpoints adapter: records what was sent, answers with `reply`."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.calls: list[tuple[str, bytes, str]] = []

    def invoke(self, name: str, body: bytes, content_type: str) -> tuple[bytes, float]:
        self.calls.append((name, body, content_type))
        if isinstance(self.reply, Exception):
            raise self.reply
        raw = self.reply if isinstance(self.reply, bytes) else json.dumps(self.reply).encode()
        return raw, 12.3456


def predictions(count: int, label: Any = 1) -> dict[str, Any]:
    return {"predictions": [{"label": label, "probability": 0.9} for _ in range(count)]}


def deployed_plan(world: Any, lineage_version: str | None = None) -> DeployPlan:
    """A package whose lineage names the dataset version it was trained on."""
    obj = world.put_dataset(KEY)
    arn = world.create_package(
        "Approved",
        lineage={
            "dataset_uri": f"s3://{world.data_bucket}/{KEY}",
            "dataset_version": lineage_version or obj["version_id"],
        },
    )
    return DeployPlan(
        action="DEPLOY",
        reason="approved package",
        model_package_arn=arn,
        version=1,
        endpoint_name=ENDPOINT,
    )


def run_smoke(world: Any, plan: DeployPlan, endpoints: Any, rows: int = 5) -> SmokeTestOutput:
    return smoke_test(plan, rows, "malignant", world.registry(), world.store(), endpoints)


def test_valid_predictions_pass_with_rows_and_rounded_latency(world: Any) -> None:
    plan = deployed_plan(world)
    endpoints = FakeEndpoints(predictions(5))
    result = run_smoke(world, plan, endpoints)
    assert result.model_dump() == {
        "endpoint_name": ENDPOINT,
        "rows": 5,
        "predictions": predictions(5)["predictions"],
        "latency_ms": 12.35,
    }


def test_rows_sent_are_feature_values_of_the_trained_dataset_version_without_label(
    world: Any,
) -> None:
    # Given the package was trained on v1, and a different v2 was uploaded since
    plan = deployed_plan(world)
    world.put_dataset(KEY, body=b"mean_radius,malignant\n999,1\n")
    endpoints = FakeEndpoints(predictions(3))
    # When
    run_smoke(world, plan, endpoints, rows=3)
    # Then three rows of v1's 30 features, in file order, as headerless CSV
    [(name, body, content_type)] = endpoints.calls
    assert (name, content_type) == (ENDPOINT, "text/csv")
    sent = list(csv.reader(io.StringIO(body.decode())))
    expected = [row[:-1] for row in csv.reader(io.StringIO(world.dataset_bytes().decode()))][1:4]
    assert sent == expected
    assert all(len(row) == 30 for row in sent)


def test_etag_lineage_reads_the_current_object(world: Any) -> None:
    plan = deployed_plan(world, lineage_version="etag:0123abcd")
    endpoints = FakeEndpoints(predictions(2))
    assert run_smoke(world, plan, endpoints, rows=2).rows == 2


def test_wrong_prediction_count_fails(world: Any) -> None:
    plan = deployed_plan(world)
    with pytest.raises(SmokeTestFailed, match=f"^{ENDPOINT}: sent 5 rows, got "):
        run_smoke(world, plan, FakeEndpoints(predictions(4)))


@pytest.mark.parametrize(
    "answer",
    [{"label": None}, {"label": ""}, {"label": True}, {"value": "12"}, {"value": float("nan")},
     {"probability": 0.9}, "1"],
    ids=["label-none", "label-empty", "label-bool", "value-text", "value-nan", "no-answer",
         "not-an-object"],
)  # fmt: skip
def test_a_row_answered_with_neither_a_label_nor_a_value_fails(world: Any, answer: Any) -> None:
    plan = deployed_plan(world)
    reply = {"predictions": [answer] * 5}
    with pytest.raises(SmokeTestFailed, match=f"^{ENDPOINT}: sent 5 rows, got "):
        run_smoke(world, plan, FakeEndpoints(reply))


@pytest.mark.parametrize(
    "answer",
    [{"label": 0, "probability": 0.2},
     {"label": "class_1", "probabilities": {"class_0": 0.1, "class_1": 0.9}},
     {"value": 151.5}],
    ids=["binary", "multiclass", "regression"],
)  # fmt: skip
def test_answers_of_every_problem_type_pass(world: Any, answer: Any) -> None:
    plan = deployed_plan(world)
    result = run_smoke(world, plan, FakeEndpoints({"predictions": [answer] * 5}))
    assert result.rows == 5 and result.predictions == [answer] * 5


def test_invoke_error_fails_naming_the_endpoint_and_the_error(world: Any) -> None:
    plan = deployed_plan(world)
    error = ClientError(
        {"Error": {"Code": "ModelError", "Message": "worker died"}}, "InvokeEndpoint"
    )
    with pytest.raises(SmokeTestFailed) as excinfo:
        run_smoke(world, plan, FakeEndpoints(error))
    assert str(excinfo.value).startswith(f"{ENDPOINT}: An error occurred (ModelError)")
    assert "worker died" in str(excinfo.value)


@pytest.mark.parametrize(
    "reply", [b"<html>502</html>", b'{"result": []}'], ids=["not-json", "no-predictions"]
)
def test_reply_without_predictions_fails(world: Any, reply: bytes) -> None:
    plan = deployed_plan(world)
    with pytest.raises(SmokeTestFailed, match=f"^{ENDPOINT}: "):
        run_smoke(world, plan, FakeEndpoints(reply))


def test_predictions_that_are_not_objects_fail(world: Any) -> None:
    plan = deployed_plan(world)
    with pytest.raises(SmokeTestFailed):
        run_smoke(world, plan, FakeEndpoints({"predictions": [1, 0, 1, 0, 1]}))


def test_package_without_dataset_lineage_fails_the_smoke_test_by_name(world: Any) -> None:
    arn = world.create_package("Approved")
    plan = DeployPlan(
        action="DEPLOY", reason="r", model_package_arn=arn, version=1, endpoint_name=ENDPOINT
    )
    with pytest.raises(SmokeTestFailed, match="has no dataset lineage"):
        run_smoke(world, plan, FakeEndpoints(predictions(5)))


def test_label_is_left_out_when_header_names_are_padded_with_spaces(world: Any) -> None:
    # Given a dataset whose header has a space after each comma (valid for training)
    lines = world.dataset_bytes().decode().splitlines()
    padded = ", ".join(lines[0].split(",")) + "\n" + "\n".join(lines[1:]) + "\n"
    obj = world.put_dataset("datasets/padded.csv", body=padded.encode())
    arn = world.create_package(
        "Approved",
        lineage={
            "dataset_uri": f"s3://{world.data_bucket}/datasets/padded.csv",
            "dataset_version": obj["version_id"],
        },
    )
    plan = DeployPlan(
        action="DEPLOY", reason="r", model_package_arn=arn, version=1, endpoint_name=ENDPOINT
    )
    endpoints = FakeEndpoints(predictions(2))
    # When
    run_smoke(world, plan, endpoints, rows=2)
    # Then each row carries the 30 features only
    [(_, body, _)] = endpoints.calls
    assert [len(row) for row in csv.reader(io.StringIO(body.decode()))] == [30, 30]


def test_missing_package_is_model_package_not_found(world: Any) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/7"
    plan = DeployPlan(
        action="DEPLOY", reason="r", model_package_arn=arn, version=7, endpoint_name=ENDPOINT
    )
    with pytest.raises(ModelPackageNotFound, match=f"^{arn}$"):
        run_smoke(world, plan, FakeEndpoints(predictions(5)))


def test_endpoints_adapter_invokes_with_csv_and_asks_for_json(world: Any) -> None:
    # Given a runtime client whose InvokeEndpoint is stubbed (the twin serves the real one)
    runtime = boto3.client("sagemaker-runtime")
    reply = json.dumps(predictions(1)).encode()
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {
                "Body": StreamingBody(io.BytesIO(reply), len(reply)),
                "ContentType": "application/json",
            },
            {
                "EndpointName": ENDPOINT,
                "Body": b"1,2\n",
                "ContentType": "text/csv",
                "Accept": "application/json",
            },
        )
        # When
        body, latency_ms = Endpoints(world.sagemaker, runtime).invoke(
            ENDPOINT, b"1,2\n", "text/csv"
        )
        # Then
        stub.assert_no_pending_responses()
    assert body == reply
    assert isinstance(latency_ms, float)


def test_a_dataset_in_parts_sends_rows_of_its_first_part_at_its_version(world: Any) -> None:
    # Given a package trained on a folder of parts (the marker names the dataset version)
    folder = "datasets/daily/"
    first = world.put_object(world.data_bucket, folder + "part-0.csv", b"a,b,malignant\n1,2,0\n")
    world.put_object(world.data_bucket, folder + "part-0.csv", b"a,b,malignant\n7,7,1\n")  # later
    marker = world.put_object(world.data_bucket, folder + "_SUCCESS", b"")
    manifest = f"s3://{world.artifacts_bucket}/runs/r/data_parts.json"
    parts = [{"key": folder + "part-0.csv", "version_id": first["version_id"]}]
    world.put_uri(manifest, json.dumps({"parts": parts}).encode())
    arn = world.create_package("Approved", lineage={
        "dataset_uri": f"s3://{world.data_bucket}/{folder}_SUCCESS",
        "dataset_version": marker["version_id"],
        "dataset_parts_manifest": manifest,
    })  # fmt: skip
    plan = DeployPlan(action="DEPLOY", reason="approved package", model_package_arn=arn,
                      version=1, endpoint_name=ENDPOINT)  # fmt: skip
    endpoints = FakeEndpoints(predictions(1))
    # When / Then the row sent is the first part's, as the run read it
    assert run_smoke(world, plan, endpoints, rows=1).rows == 1
    [(_, body, _)] = endpoints.calls
    assert body == b"1,2\n"
