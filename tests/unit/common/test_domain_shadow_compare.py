"""compare_shadow: the candidate's answers to copies of live traffic, judged against production.

moto holds what SageMaker itself records during a shadow test: data capture JSON lines in S3
(<capture_uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, both variants' answers to one
request share its eventId) and the variants' AWS/SageMaker metrics in CloudWatch. The verdict is
recorded on the package: UpdateModelPackage as AWS documents it, through the twin's registry
seam (moto 5.2.5 replaces the properties and erases the approval status a request omits).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_common.adapters.metrics import EndpointMetrics
from mlops_common.domain.shadow import compare_shadow
from mlops_common.models import DeployPlan, ShadowComparison
from mlops_common.settings import ShadowSettings

from mlops.twin.sagemaker.registry import RegistrySeam

ENDPOINT = "mlops-endpoint"
LIVE, SHADOW = "AllTraffic", "Shadow"
CAPTURE_PREFIX = "shadow-tests/deploy-2"
THRESHOLDS = {
    "shadow_min_requests": 100,
    "shadow_max_error_rate": 0.01,
    "shadow_min_agreement": 0.95,
    "shadow_max_latency_ratio": 1.5,
}
SETTINGS = ShadowSettings(model_package_group="mlops-models", **THRESHOLDS)


def shadow_plan(world: Any, arn: str) -> DeployPlan:
    """The plan of deploy-2 (v2 shadowing the live v1), as plan_deployment writes it."""
    return DeployPlan(
        action="DEPLOY",
        reason="approved package",
        model_package_arn=arn,
        version=2,
        endpoint_name=ENDPOINT,
        endpoint_exists=True,
        shadow={
            "enabled": True,
            "window_seconds": 900,
            "capture_uri": f"s3://{world.artifacts_bucket}/{CAPTURE_PREFIX}",
            "endpoint_config": {
                "EndpointConfigName": "mlops-endpoint-v2-0badc0de-shadow",
                "ProductionVariants": [{"VariantName": LIVE, "ModelName": "mlops-endpoint-v1-a"}],
                "ShadowProductionVariants": [
                    {"VariantName": SHADOW, "ModelName": "mlops-endpoint-v2-0badc0de"}
                ],
            },
        },
    )


def output(labels: list[int], encoding: str = "JSON") -> dict[str, str]:
    """endpointOutput as data capture records it: ml/inference.py's application/json answer,
    or with encoding "CSV" its text/csv answer (one label per line)."""
    data = json.dumps({"predictions": [{"label": x, "probability": 0.9} for x in labels]})
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    content_type = "application/json"
    if encoding == "CSV":
        data, content_type = "".join(f"{x}\n" for x in labels), "text/csv"
    return {
        "observedContentType": content_type,
        "mode": "OUTPUT",
        "data": data,
        "encoding": encoding,
    }


def record(event_id: str, answer: dict[str, str] | None) -> dict[str, Any]:
    """One captured request; `answer` None is a request without an output (a failed one)."""
    capture: dict[str, Any] = {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "17.99,10.38,122.8",
            "encoding": "CSV",
        }
    }
    if answer is not None:
        capture["endpointOutput"] = answer
    return {
        "captureData": capture,
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-03-02T10:05:00Z"},
        "eventVersion": "0",
    }


def capture(world: Any, variant: str, records: list[dict[str, Any]], name: str = "a") -> None:
    key = f"{CAPTURE_PREFIX}/{ENDPOINT}/{variant}/2026/03/02/10/{name}.jsonl"
    body = "".join(json.dumps(r) + "\n" for r in records)
    world.put_object(world.artifacts_bucket, key, body.encode())


def answers(world: Any, live: list[int], shadow: list[int]) -> None:
    """Request i answered `live[i]` by production and `shadow[i]` by the candidate."""
    capture(world, LIVE, [record(f"event-{i}", output([x])) for i, x in enumerate(live)])
    capture(world, SHADOW, [record(f"event-{i}", output([x])) for i, x in enumerate(shadow)])


def publish(
    cloudwatch: Any, variant: str, invocations: float, errors: float, latency_us: list[float]
) -> None:
    """What SageMaker publishes for a variant during the window (ModelLatency in µs)."""
    when = datetime.now(UTC) - timedelta(minutes=1)
    dimensions = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": variant},
    ]
    data = [("Invocations", invocations), ("Invocation5XXErrors", errors)]
    data += [("ModelLatency", value) for value in latency_us]
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": m, "Value": v, "Timestamp": when, "Dimensions": dimensions}
            for m, v in data
        ],
    )


def judge(world: Any, aws: Any, arn: str, settings: ShadowSettings = SETTINGS) -> ShadowComparison:
    # The shadow test went InService 10 minutes ago (an ISO string, as Step Functions passes it)
    started = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    endpoint = {
        "EndpointName": ENDPOINT,
        "EndpointStatus": "InService",
        "LastModifiedTime": started,
    }
    cloudwatch = aws.client("cloudwatch")
    return compare_shadow(
        shadow_plan(world, arn), endpoint, settings, world.store(),
        EndpointMetrics(cloudwatch, ENDPOINT), world.registry(),
    )  # fmt: skip


def package(world: Any, arn: str) -> dict[str, Any]:
    return world.sagemaker.describe_model_package(ModelPackageName=arn)


def shadow_properties(world: Any, arn: str) -> dict[str, str]:
    """The package's properties but its lineage, which the comparison must leave alone."""
    properties = dict(package(world, arn).get("CustomerMetadataProperties", {}))
    assert {k: properties.pop(k, None) for k in LINEAGE} == LINEAGE
    return properties


LINEAGE = {"run_id": "run-b", "dataset_version": "v2"}


@pytest.fixture
def candidate(world: Any) -> Iterator[str]:
    """v2, approved with its lineage, while v1 is live."""
    with RegistrySeam():
        world.create_package("Approved")
        yield world.create_package("Approved", lineage=LINEAGE, provenance=False)


# ---- PROMOTE ----------------------------------------------------------------------------------


def test_candidate_that_answers_as_well_as_production_is_promoted(
    world: Any, aws: Any, candidate: str
) -> None:
    # Given 20 captured requests, 19 answered alike (agreement 0.95, the threshold itself),
    # 120 shadow invocations with 1 error (0.0083) and a shadow 1.5x as slow (the threshold)
    answers(world, live=[1] * 20, shadow=[1] * 19 + [0])
    publish(aws.client("cloudwatch"), SHADOW, 120, 1, [30_000, 30_000])
    publish(aws.client("cloudwatch"), LIVE, 120, 0, [20_000])
    # When
    result = judge(world, aws, candidate)
    # Then
    assert result.model_dump() == {
        "decision": "PROMOTE",
        "reason": "the candidate answered as well as production",
        "requests": 120,
        "paired": 20,
        "agreement": 0.95,
        "shadow_error_rate": 1 / 120,
        "shadow_latency_ms": 30.0,
        "production_latency_ms": 20.0,
        "latency_ratio": 1.5,
        "thresholds": THRESHOLDS,
    }
    # And the comparison is on the package, which stays Approved for the rollout
    assert shadow_properties(world, candidate) == {
        "shadow_decision": "PROMOTE",
        "shadow_requests": "120",
        "shadow_agreement": "0.9500",
        "shadow_error_rate": "0.0083",
        "shadow_latency_ratio": "1.5000",
    }
    assert package(world, candidate)["ModelApprovalStatus"] == "Approved"


# ---- DISCARD ----------------------------------------------------------------------------------


def test_candidate_failing_every_threshold_is_discarded_naming_each_and_rejected(
    world: Any, aws: Any, candidate: str
) -> None:
    # Given 40 shadow requests, 2 of them 5XX, half the answers differ, twice production's latency
    answers(world, live=[1, 1, 0, 0], shadow=[1, 0, 0, 1])
    publish(aws.client("cloudwatch"), SHADOW, 40, 2, [40_000])
    publish(aws.client("cloudwatch"), LIVE, 40, 0, [20_000])
    # When
    result = judge(world, aws, candidate)
    # Then
    reason = (
        "40 shadow requests, fewer than 100; error rate 0.050 above 0.01; "
        "agreement 0.5000 below 0.95; latency 2.00x production, above 1.5x"
    )
    assert (result.decision, result.reason) == ("DISCARD", reason)
    assert (result.requests, result.paired, result.agreement) == (40, 4, 0.5)
    assert (result.shadow_error_rate, result.latency_ratio) == (0.05, 2.0)
    described = package(world, candidate)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"] == f"shadow test discarded it: {reason}"
    assert shadow_properties(world, candidate) == {
        "shadow_decision": "DISCARD",
        "shadow_requests": "40",
        "shadow_agreement": "0.5000",
        "shadow_error_rate": "0.0500",
        "shadow_latency_ratio": "2.0000",
    }


@pytest.mark.parametrize(
    ("invocations", "errors", "shadow", "shadow_latency_us", "reason"),
    [
        (99, 0, [1, 1, 1, 1], 20_000, "99 shadow requests, fewer than 100"),
        (200, 3, [1, 1, 1, 1], 20_000, "error rate 0.015 above 0.01"),
        (200, 0, [1, 1, 1, 0], 20_000, "agreement 0.7500 below 0.95"),
        (200, 0, [1, 1, 1, 1], 30_200, "latency 1.51x production, above 1.5x"),
    ],
    ids=["too-few-requests", "error-rate", "agreement", "latency-ratio"],
)
def test_each_threshold_alone_discards_and_is_the_whole_reason(
    world: Any,
    aws: Any,
    candidate: str,
    invocations: int,
    errors: int,
    shadow: list[int],
    shadow_latency_us: float,
    reason: str,
) -> None:
    answers(world, live=[1, 1, 1, 1], shadow=shadow)
    publish(aws.client("cloudwatch"), SHADOW, invocations, errors, [shadow_latency_us])
    publish(aws.client("cloudwatch"), LIVE, invocations, 0, [20_000])
    result = judge(world, aws, candidate)
    assert (result.decision, result.reason) == ("DISCARD", reason)
    assert package(world, candidate)["ModelApprovalStatus"] == "Rejected"


def test_no_captured_pair_is_no_agreement_and_discards(
    world: Any, aws: Any, candidate: str
) -> None:
    # Given metrics, but the shadow answered none of the requests production's capture holds
    capture(world, LIVE, [record("event-live", output([1]))])
    capture(world, SHADOW, [record("event-shadow", output([1]))])
    publish(aws.client("cloudwatch"), SHADOW, 200, 0, [20_000])
    publish(aws.client("cloudwatch"), LIVE, 200, 0, [20_000])
    result = judge(world, aws, candidate)
    assert (result.paired, result.agreement) == (0, None)
    assert (result.decision, result.reason) == ("DISCARD", "agreement n/a below 0.95")
    assert shadow_properties(world, candidate)["shadow_agreement"] == "n/a"


def test_without_metrics_nothing_is_assumed(world: Any, aws: Any, candidate: str) -> None:
    # No datapoint at all (the shadow never served): no rate or ratio is made up from zeros
    answers(world, live=[1], shadow=[1])
    result = judge(world, aws, candidate)
    assert (result.requests, result.shadow_error_rate) == (0, None)
    assert (result.shadow_latency_ms, result.production_latency_ms, result.latency_ratio) == (
        None,
        None,
        None,
    )
    assert (result.decision, result.reason) == ("DISCARD", "0 shadow requests, fewer than 100")


# ---- reading the capture ----------------------------------------------------------------------


def test_base64_encoded_answers_are_decoded(world: Any, aws: Any, candidate: str) -> None:
    # Data capture base64-encodes a content type outside CaptureContentTypeHeader
    capture(world, LIVE, [record(f"e-{i}", output([i % 2], "BASE64")) for i in range(4)])
    capture(world, SHADOW, [record(f"e-{i}", output([i % 2], "BASE64")) for i in range(3)]
            + [record("e-3", output([0], "BASE64"))])  # fmt: skip
    publish(aws.client("cloudwatch"), SHADOW, 200, 0, [20_000])
    publish(aws.client("cloudwatch"), LIVE, 200, 0, [20_000])
    result = judge(world, aws, candidate)
    assert (result.paired, result.agreement) == (4, 0.75)


def test_records_without_an_output_are_not_paired(world: Any, aws: Any, candidate: str) -> None:
    # Given 4 requests; the shadow failed two (input captured, no output), and a blank line
    capture(world, LIVE, [record(f"e-{i}", output([1])) for i in range(4)])
    capture(world, SHADOW, [record("e-0", output([1])), record("e-1", None)], name="a")
    capture(world, SHADOW, [record("e-2", output([1])), record("e-3", None)], name="b")
    key = f"{CAPTURE_PREFIX}/{ENDPOINT}/{SHADOW}/2026/03/02/11/c.jsonl"
    world.put_object(world.artifacts_bucket, key, b"\n")
    publish(aws.client("cloudwatch"), SHADOW, 200, 0, [20_000])
    publish(aws.client("cloudwatch"), LIVE, 200, 0, [20_000])
    # When
    result = judge(world, aws, candidate)
    # Then agreement is over the two requests both variants answered, across files and hours
    assert (result.paired, result.agreement) == (2, 1.0)


def test_only_this_endpoint_s_capture_under_the_test_s_uri_is_read(
    world: Any, aws: Any, candidate: str
) -> None:
    # Given disagreeing answers under another endpoint and another execution's shadow test
    answers(world, live=[1, 1], shadow=[1, 1])
    for prefix in (f"{CAPTURE_PREFIX}/other-endpoint", "shadow-tests/deploy-1/mlops-endpoint"):
        body = json.dumps(record("event-0", output([0]))).encode()
        world.put_object(world.artifacts_bucket, f"{prefix}/{SHADOW}/2026/03/02/10/x.jsonl", body)
    publish(aws.client("cloudwatch"), SHADOW, 200, 0, [20_000])
    publish(aws.client("cloudwatch"), LIVE, 200, 0, [20_000])
    result = judge(world, aws, candidate)
    assert (result.paired, result.agreement, result.decision) == (2, 1.0, "PROMOTE")


def test_csv_answers_that_differ_do_not_agree(world: Any, aws: Any, candidate: str) -> None:
    # Given clients that ask for text/csv, and a candidate answering the opposite label
    capture(world, LIVE, [record(f"e-{i}", output([1], "CSV")) for i in range(4)])
    capture(world, SHADOW, [record(f"e-{i}", output([0], "CSV")) for i in range(4)])
    publish(aws.client("cloudwatch"), SHADOW, 200, 0, [20_000])
    publish(aws.client("cloudwatch"), LIVE, 200, 0, [20_000])
    # When
    result = judge(world, aws, candidate)
    # Then not one request agreed, and the candidate is not promoted
    assert (result.paired, result.agreement) == (4, 0.0)
    assert result.decision == "DISCARD"
