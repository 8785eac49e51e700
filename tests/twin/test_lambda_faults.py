"""Crash injection in the twin's Lambda runtime (lambda_/faults.py, worker.py): a function's
worker dies (SIGKILL, as an out-of-memory kill) right after a given AWS call of its handler
has been answered, and the invocation fails as Lambda reports a runtime that exited."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.lambda_.function import FunctionSpec
from mlops.twin.stack import ROOT, STACK_NAME, twin_parameters

pytestmark = pytest.mark.twin

FIXTURE = Path(__file__).parent / "fixtures" / "lambda_crash"


@pytest.fixture(scope="module")
def crashing(local_cloud: Any) -> dict[str, str]:
    """The fixture handlers registered in the cloud's runtime, and a bucket for them."""
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    local_cloud.client("s3").create_bucket(Bucket=bucket)
    names = {}
    for handler in ("writes", "quiet"):
        name = f"crash-{handler}-{uuid.uuid4().hex[:6]}"
        arn = f"arn:aws:lambda:{local_cloud.region}:{local_cloud.account}:function:{name}"
        local_cloud.lambdas.register(
            FunctionSpec(name, arn, FIXTURE, f"app.{handler}", {}, timeout_s=30, memory_mb=512)
        )
        names[handler] = name
    return {"bucket": bucket, **names}


def invoke(cloud: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = cloud.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
    return {
        "error": answer.get("FunctionError"),
        "payload": json.loads(answer["Payload"].read()),
        "request_id": answer["ResponseMetadata"]["RequestId"],
    }


def keys(cloud: Any, bucket: str, prefix: str) -> list[str]:
    listed = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", []))


def test_the_worker_dies_right_after_the_call_and_lambda_reports_an_exited_runtime(
    local_cloud, crashing
):
    fault = local_cloud.lambdas.crash_after(crashing["writes"], "s3.PutObject", times=1)
    event = {"bucket": crashing["bucket"], "prefix": uuid.uuid4().hex[:8]}
    crashed = invoke(local_cloud, crashing["writes"], event)
    assert crashed["error"] == "Unhandled"
    assert crashed["payload"] == {
        "errorMessage": f"RequestId: {fault.crashed[0]} Error: Runtime exited with error: "
        "signal: killed",
        "errorType": "Runtime.ExitError",
    }
    assert keys(local_cloud, crashing["bucket"], event["prefix"]) == ["first"], (
        "the call completed before the crash; the next one never ran"
    )
    assert fault.remaining == 0
    again = invoke(local_cloud, crashing["writes"], event)  # used up: a fresh worker, no crash
    assert again["error"] is None and again["payload"] == {"written": 2}
    assert keys(local_cloud, crashing["bucket"], event["prefix"]) == ["first", "second"]


def test_a_fault_waits_for_an_invocation_that_makes_the_call_and_counts_its_crashes(
    local_cloud, crashing
):
    fault = local_cloud.lambdas.crash_after(
        f"arn:aws:lambda:us-east-1:123456789012:function:{crashing['writes']}",
        "s3.PutObject",
        times=2,
    )
    other = local_cloud.lambdas.crash_after(crashing["quiet"], "s3.PutObject")
    assert invoke(local_cloud, crashing["quiet"], {})["error"] is None  # never made the call
    assert other.remaining == 1 and other.crashed == []
    event = {"bucket": crashing["bucket"], "prefix": uuid.uuid4().hex[:8]}
    outcomes = [invoke(local_cloud, crashing["writes"], event)["error"] for _ in range(3)]
    assert outcomes == ["Unhandled", "Unhandled", None]
    assert len(fault.crashed) == 2 and fault.remaining == 0
    local_cloud.lambdas.clear_faults()


def test_faults_name_a_known_function_and_a_service_operation(local_cloud, crashing):
    with pytest.raises(LookupError):
        local_cloud.lambdas.crash_after("no-such-function", "s3.PutObject")
    with pytest.raises(ValueError):
        local_cloud.lambdas.crash_after(crashing["writes"], "PutObject")


@pytest.fixture(scope="module")
def stack(local_cloud: Any) -> Any:
    return Provisioner(
        local_cloud.client, local_cloud.runtime, ROOT, local_cloud.account, local_cloud.region
    ).deploy(STACK_NAME, ROOT / "template.yaml", twin_parameters(local_cloud.region))


def test_the_projects_validate_dataset_crashes_after_its_ledger_claim(local_cloud, stack):
    # The upload alone must start no run while the test runs: that run's own ValidateDataset
    # would race this invocation for the one injected crash.
    events, ingress = local_cloud.client("events"), stack.physical_ids["DataIngressRule"]
    events.disable_rule(Name=ingress)
    try:
        crashes_after_its_claim(local_cloud, stack)
    finally:
        events.enable_rule(Name=ingress)


def crashes_after_its_claim(local_cloud: Any, stack: Any) -> None:
    s3 = local_cloud.client("s3")
    bucket, prefix = stack.outputs["DataBucketName"], stack.outputs["DataPrefix"]
    key = f"{prefix}crash-{uuid.uuid4().hex[:6]}.csv"
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=(ROOT / "ml" / "data" / "breast_cancer.csv").read_bytes()
    )
    request = json.loads((ROOT / "events" / "functions" / "validate_dataset.json").read_text())
    event = copy.deepcopy(request["event"])
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(
        {"key": key, "etag": put["ETag"].strip('"'), "version-id": put.get("VersionId")}
    )
    request["event"] = event
    request["execution"]["Input"] = event
    function = stack.functions["ValidateDatasetFunction"].name
    fault = local_cloud.lambdas.crash_after(function, "dynamodb.PutItem")
    crashed = invoke(local_cloud, function, request)
    assert crashed["error"] == "Unhandled", crashed["payload"]
    assert crashed["payload"]["errorType"] == "Runtime.ExitError"
    assert len(fault.crashed) == 1
    ledger = local_cloud.client("dynamodb").scan(TableName=stack.outputs["LedgerTableName"])
    claims = [item for item in ledger["Items"] if key in item["pk"]["S"]]
    assert claims, "PutItem completed before the worker died"
