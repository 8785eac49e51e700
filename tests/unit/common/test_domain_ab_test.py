"""judge_ab_test: the two production variants of an A/B test compared on what SageMaker records
(per-variant AWS/SageMaker metrics with the VariantName dimension, data capture with each
request's inferenceId) and on labels users upload; WAIT until the window ends, then PROMOTE or
STOP; an operator's decision first. The verdict is on the package and in the ledger."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_common.adapters.metrics import EndpointMetrics
from mlops_common.domain import ab_quality
from mlops_common.domain.ab_test import judge_ab_test, ledger_key
from mlops_common.models import ABComparison, DeployPlan, Execution
from mlops_common.settings import ABTestSettings

from mlops.twin.sagemaker.registry import RegistrySeam

ENDPOINT = "mlops-endpoint"
LIVE, CANDIDATE = "AllTraffic", "Candidate"
CAPTURE_PREFIX = "ab-tests/deploy-2"
EXECUTION = Execution(Name="deploy-2", Id="arn:aws:states:us-east-1:1:execution:d:deploy-2")


def settings(**overrides: Any) -> ABTestSettings:
    values = {
        "ledger_table": "unused",
        "model_package_group": "mlops-models",
        "artifacts_bucket": "mlops-artifacts",
        "ab_window_seconds": 3600,
        "ab_min_requests": 100,
        "ab_max_error_rate_increase": 0.01,
        "ab_max_latency_ratio": 1.5,
        "ab_min_quality_difference": 0.0,
    }
    return ABTestSettings(**(values | overrides))


def plan(arn: str) -> DeployPlan:
    return DeployPlan(
        action="DEPLOY",
        reason="approved package",
        model_package_arn=arn,
        version=2,
        endpoint_name=ENDPOINT,
        endpoint_exists=True,
        ab_test={
            "enabled": True,
            "capture_uri": f"s3://mlops-artifacts/{CAPTURE_PREFIX}",
            "live_variant": LIVE,
            "candidate_variant": CANDIDATE,
            "candidate_weight_percent": 10,
        },
    )


def publish(aws: Any, variant: str, invocations: float, errors: float, latency_us: float) -> None:
    when = datetime.now(UTC) - timedelta(minutes=1)
    dimensions = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": variant},
    ]
    data = [("Invocations", invocations), ("Invocation5XXErrors", errors)]
    data.append(("ModelLatency", latency_us))
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": m, "Value": v, "Timestamp": when, "Dimensions": dimensions}
            for m, v in data
        ],
    )


def captured(world: Any, variant: str, answers: dict[str, int]) -> None:
    """One-row requests with an InferenceId, answered as ml/inference.py answers."""
    lines = []
    for inference_id, label in answers.items():
        output = {"predictions": [{"label": label, "probability": 0.9}]}
        lines.append(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": "1,2,3",
                        "encoding": "CSV",
                    },
                    "endpointOutput": {
                        "observedContentType": "application/json",
                        "mode": "OUTPUT",
                        "data": json.dumps(output),
                        "encoding": "JSON",
                    },
                },  # fmt: skip
                "eventMetadata": {"eventId": f"e-{inference_id}", "inferenceId": inference_id},
                "eventVersion": "0",
            }
        )
    key = f"{CAPTURE_PREFIX}/{ENDPOINT}/{variant}/2026/03/02/10/a.jsonl"
    body = "".join(json.dumps(line) + "\n" for line in lines)
    world.put_object(world.artifacts_bucket, key, body.encode())


def judge(world: Any, aws: Any, arn: str, began_minutes_ago: int = 10, **overrides: Any):
    began = datetime.now(UTC) - timedelta(minutes=began_minutes_ago)
    endpoint = {"EndpointName": ENDPOINT, "LastModifiedTime": began.isoformat()}
    return judge_ab_test(
        plan(arn), endpoint, EXECUTION, settings(**overrides),
        EndpointMetrics(aws.client("cloudwatch"), ENDPOINT), world.ledger(), world.store(),
        world.registry(),
    )  # fmt: skip


def package(world: Any, arn: str) -> dict[str, Any]:
    return world.sagemaker.describe_model_package(ModelPackageName=arn)


@pytest.fixture
def candidate(world: Any) -> Iterator[str]:
    with RegistrySeam():
        world.create_package("Approved")
        yield world.create_package("Approved", provenance=False)


def test_the_test_waits_while_the_window_runs_and_neither_variant_has_enough_requests(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 300, 0, 20_000)
    publish(aws, CANDIDATE, 40, 0, 20_000)
    result = judge(world, aws, candidate)
    assert (result.decision, result.decided_by) == ("WAIT", "rule")
    assert "both variants served 100 requests (300 and 40 so far)" in result.reason
    assert (result.live.requests, result.candidate.requests) == (300, 40)
    assert (result.live.weight_percent, result.candidate.weight_percent) == (90, 10)
    # Nothing recorded on the package yet; the figures are in the ledger for `mlops ab status`
    assert "ab_decision" not in package(world, candidate).get("CustomerMetadataProperties", {})
    view = world.ledger().view(ledger_key(ENDPOINT), "test#deploy-2")
    assert view["state"] == "RUNNING" and view["comparison"]["candidate"]["requests"] == 40


def test_a_candidate_as_good_is_promoted_once_both_variants_have_enough_requests(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 900, 9, 20_000)
    publish(aws, CANDIDATE, 100, 1, 30_000)  # 1.5x the latency: the threshold itself
    result = judge(world, aws, candidate)
    assert (result.decision, result.quality_metric) == ("PROMOTE", None)
    assert result.candidate.error_rate == 0.01 and result.candidate.latency_ms == 30.0
    properties = package(world, candidate)["CustomerMetadataProperties"]
    assert properties["ab_decision"] == "PROMOTE"
    assert properties["ab_requests"] == "900/100"
    assert properties["ab_quality"] == "not available"
    assert package(world, candidate)["ModelApprovalStatus"] == "Approved"


def test_a_candidate_with_more_errors_and_slower_is_stopped_and_rejected_with_the_reasons(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 900, 0, 20_000)
    publish(aws, CANDIDATE, 100, 5, 40_000)
    result = judge(world, aws, candidate)
    assert result.decision == "STOP"
    assert "error rate 0.050 against 0.000" in result.reason
    assert "latency 2.00x the live version's" in result.reason
    described = package(world, candidate)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"].startswith("A/B test stopped it: error rate")
    assert all(len(v) <= 256 for v in described["CustomerMetadataProperties"].values())


def test_the_window_ending_decides_with_the_requests_there_are(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 300, 0, 20_000)
    publish(aws, CANDIDATE, 40, 0, 20_000)
    result = judge(world, aws, candidate, ab_window_seconds=300)  # began 600 s ago
    assert result.decision == "STOP"
    assert result.reason == "40 candidate requests, fewer than 100"


def test_labels_joined_on_the_inference_id_decide_quality(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 900, 0, 20_000)
    publish(aws, CANDIDATE, 100, 0, 20_000)
    ids_live = [f"l{i}" for i in range(20)]
    ids_cand = [f"c{i}" for i in range(20)]
    captured(world, LIVE, dict.fromkeys(ids_live, 1))  # live: right on all 20
    captured(world, CANDIDATE, {i: (1 if n < 15 else 0) for n, i in enumerate(ids_cand)})
    labels = "inference_id,label\n" + "".join(f"{i},1\n" for i in ids_live + ids_cand)
    world.put_object(world.artifacts_bucket, f"ab-labels/{ENDPOINT}/day1.csv", labels.encode())
    result = judge(world, aws, candidate)
    assert (result.quality_metric, result.live.quality, result.candidate.quality) == (
        "accuracy", 1.0, 0.75,
    )  # fmt: skip
    assert (result.live.labelled, result.candidate.labelled) == (20, 20)
    assert result.decision == "STOP"
    assert (
        "accuracy 0.7500 against 1.0000, a difference of -0.2500, below +0.0 beyond its 95% bound"
        in result.reason
    )
    assert package(world, candidate)["CustomerMetadataProperties"]["ab_quality"] == (
        "accuracy 1.0000/0.7500"
    )


def test_an_equal_candidate_is_not_stopped_by_the_scatter_of_a_small_labelled_sample(
    world: Any, aws: Any, candidate: str
) -> None:
    """18/20 against 16/20 right: -0.10 measured, but within what two samples of 20 requests
    of equal models scatter (the 95% bound of the difference reaches +0.08)."""
    publish(aws, LIVE, 900, 0, 20_000)
    publish(aws, CANDIDATE, 100, 0, 20_000)
    ids_live = [f"l{i}" for i in range(20)]
    ids_cand = [f"c{i}" for i in range(20)]
    captured(world, LIVE, {i: (1 if n < 18 else 0) for n, i in enumerate(ids_live)})
    captured(world, CANDIDATE, {i: (1 if n < 16 else 0) for n, i in enumerate(ids_cand)})
    labels = "inference_id,label\n" + "".join(f"{i},1\n" for i in ids_live + ids_cand)
    world.put_object(world.artifacts_bucket, f"ab-labels/{ENDPOINT}/day1.csv", labels.encode())
    result = judge(world, aws, candidate)
    assert (result.live.quality, result.candidate.quality) == (0.9, 0.8)
    assert result.decision == "PROMOTE", result.reason


def test_quality_carries_the_standard_error_of_its_figure() -> None:
    right = {f"r{i}": 1 for i in range(40)}
    labels = {f"r{i}": ("1" if i < 30 else "0") for i in range(40)}
    n, accuracy, error = ab_quality.quality(right, labels, "binary_classification", "1")
    assert (n, accuracy) == (40, 0.75)
    assert error == pytest.approx(math.sqrt(0.75 * 0.25 / 40))
    answers = {f"r{i}": float(i % 4) for i in range(12)}
    truth = {f"r{i}": "0" for i in range(12)}
    n, mae, error = ab_quality.quality(answers, truth, "regression", "1")
    absolute = [float(i % 4) for i in range(12)]
    assert mae == pytest.approx(statistics.mean(absolute))
    assert error == pytest.approx(statistics.stdev(absolute) / math.sqrt(12))
    # the bound: -0.05 measured with a spread of 0.02 is worse beyond doubt than -0.01
    assert ab_quality.worse_beyond_doubt(-0.05, 0.01, 0.01, -0.01)
    assert not ab_quality.worse_beyond_doubt(-0.05, 0.03, 0.03, -0.01)


def test_an_operator_decision_is_acted_on_before_the_window_ends(
    world: Any, aws: Any, candidate: str
) -> None:
    publish(aws, LIVE, 30, 0, 20_000)
    publish(aws, CANDIDATE, 3, 0, 20_000)
    world.ledger().put_view(
        ledger_key(ENDPOINT),
        "decision#deploy-2",
        {"decision": "PROMOTE", "requested_by": "arn:aws:iam::1:user/ops", "reason": "looks good"},
    )
    result = judge(world, aws, candidate)
    assert (result.decision, result.decided_by) == ("PROMOTE", "arn:aws:iam::1:user/ops")
    assert result.reason == "operator: looks good"
    assert package(world, candidate)["CustomerMetadataProperties"]["ab_decided_by"] == (
        "arn:aws:iam::1:user/ops"
    )


def test_labels_are_read_from_json_lines_and_csv_and_regression_is_judged_on_mae() -> None:
    jsonl = '{"inference_id": "a", "label": "M"}\n{"inference_id": "b", "label": 2.5}\n'
    assert ab_quality.parse_labels(jsonl) == {"a": "M", "b": "2.5"}
    assert ab_quality.parse_labels("inference_id,label\na,1\nb,0\n") == {"a": "1", "b": "0"}
    predictions = {f"r{i}": 2.0 for i in range(10)}
    labels = {f"r{i}": "2.5" for i in range(10)}
    assert ab_quality.quality(predictions, labels, "regression", "1") == (10, 0.5, 0.0)
    assert ab_quality.advantage("regression", live=0.5, candidate=0.4) == pytest.approx(0.1)
    # Fewer than MIN_LABELLED joined requests: quality is not available
    assert ab_quality.quality({"a": 1}, {"a": "1"}, "binary_classification", "1") == (
        1, None, None,
    )  # fmt: skip


def test_binary_labels_are_read_against_the_positive_label() -> None:
    predictions = {f"r{i}": 1 for i in range(10)}
    labels = {f"r{i}": "Malignant" for i in range(10)}
    assert ab_quality.quality(predictions, labels, "binary_classification", "malignant") == (
        10, 1.0, 0.0,
    )  # fmt: skip


def test_the_comparison_is_what_the_asl_routes_on() -> None:
    assert set(ABComparison.model_fields["decision"].annotation.__args__) == {
        "WAIT", "PROMOTE", "STOP",
    }  # fmt: skip
