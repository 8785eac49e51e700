"""A/B tests: the candidate serves a weighted share of live traffic as a second production
variant beside the live version, and a decision compares the two.

The A/B config holds the live variant (its name, model and instance count) at 100 - w and the
candidate as the production variant `Candidate` at w (ProductionVariant.InitialVariantWeight:
a variant's share is its weight over the sum of weights). Callers can pin a variant with
InvokeEndpoint's `TargetVariant`; every answer names its variant (`InvokedProductionVariant`).

JudgeABTest runs once per poll of the DeployPipeline's wait loop. It reads each variant's
CloudWatch metrics (namespace AWS/SageMaker, dimensions EndpointName and VariantName:
Invocations, Invocation5XXErrors, ModelLatency), the quality of labelled requests
(domain.ab_quality) and an operator's decision (`mlops ab promote|stop`, a ledger item), and
answers WAIT, PROMOTE or STOP. The window ends when ABWindowSeconds have passed or both
variants have served ABMinRequests; then the rule decides. An operator's decision is acted on
at the next poll, whatever the window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..adapters.endpoints import Endpoints
from ..adapters.ledger import Ledger
from ..adapters.metrics import EndpointMetrics
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..models import ABComparison, DeployPlan, Execution, VariantFigures
from ..settings import ABTestSettings, DeploySettings
from ..timestamps import parse_timestamp
from . import ab_quality

CANDIDATE_VARIANT = "Candidate"
AB_SUFFIX = "-ab"
MAX_PROPERTY = 256  # CustomerMetadataProperties values (botocore model: CustomerMetadataValue)


def ledger_key(endpoint: str) -> str:
    """The ledger key of an endpoint's A/B tests: `test#<execution>` items hold the judge's
    latest figures, `decision#<execution>` an operator's decision."""
    return f"abtest#{endpoint}"


def ab_test(
    endpoint: dict[str, Any],
    requests: dict[str, dict[str, Any]],
    settings: DeploySettings,
    endpoints: Endpoints,
    execution_name: str,
) -> dict[str, Any]:
    """The plan's A/B part: both variants weighted, data capture of both (100 %)."""
    live = endpoints.describe_config(endpoint["EndpointConfigName"])["ProductionVariants"][0]
    serving = {v["VariantName"]: v for v in endpoint.get("ProductionVariants") or []}
    count = serving.get(live["VariantName"], {}).get("CurrentInstanceCount")
    candidate = requests["endpoint_config"]["ProductionVariants"][0]
    weight = settings.ab_candidate_weight_percent
    capture_uri = f"s3://{settings.artifacts_bucket}/ab-tests/{execution_name}"
    return {
        "enabled": True,
        "capture_uri": capture_uri,
        "live_variant": live["VariantName"],
        "candidate_variant": CANDIDATE_VARIANT,
        "candidate_weight_percent": weight,
        "endpoint_config": {
            "EndpointConfigName": requests["endpoint_config"]["EndpointConfigName"][:60]
            + AB_SUFFIX,
            "ProductionVariants": [
                {
                    "VariantName": live["VariantName"],
                    "ModelName": live["ModelName"],
                    "InitialInstanceCount": count or live["InitialInstanceCount"],
                    "InstanceType": live["InstanceType"],
                    "InitialVariantWeight": float(100 - weight),
                },
                {
                    **candidate,
                    "VariantName": CANDIDATE_VARIANT,
                    "InitialVariantWeight": float(weight),
                },
            ],
            "DataCaptureConfig": {
                **requests["endpoint_config"]["DataCaptureConfig"],
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": capture_uri,
            },
            "Tags": requests["endpoint_config"]["Tags"],
        },
    }


def judge_ab_test(
    plan: DeployPlan,
    endpoint: dict[str, Any],
    execution: Execution,
    settings: ABTestSettings,
    metrics: EndpointMetrics,
    ledger: Ledger,
    store: S3Store,
    registry: ModelRegistry,
    now: datetime | None = None,
) -> ABComparison:
    ab = plan.ab_test
    now = now or datetime.now(UTC)
    began = parse_timestamp(endpoint.get("LastModifiedTime")) or execution.start_time or now
    weight = int(ab["candidate_weight_percent"])
    live = _figures(metrics, ab["live_variant"], 100 - weight, began, now)
    candidate = _figures(metrics, ab["candidate_variant"], weight, began, now)
    metric = _join_quality(plan, ab, settings, store, live, candidate)
    comparison = ABComparison(
        decision="WAIT",
        decided_by="rule",
        reason="",
        live=live,
        candidate=candidate,
        quality_metric=metric,
        elapsed_seconds=int((now - began).total_seconds()),
        window_seconds=settings.ab_window_seconds,
        thresholds=settings.model_dump(
            include={
                "ab_min_requests",
                "ab_max_error_rate_increase",
                "ab_max_latency_ratio",
                "ab_min_quality_difference",
            }
        ),
    )
    key = ledger_key(plan.endpoint_name)
    operator = ledger.view(key, f"decision#{execution.name}")
    problems = _problems(comparison, settings)
    if operator is not None:
        comparison.decision = operator["decision"]
        comparison.decided_by = str(operator["requested_by"])
        comparison.reason = f"operator: {operator['reason']}"
    elif _window_over(comparison, settings):
        comparison.decision = "STOP" if problems else "PROMOTE"
        comparison.reason = "; ".join(problems) or "the candidate did as well as the live version"
    else:
        comparison.reason = _time_left(comparison, settings)
    ledger.put_view(
        key,
        f"test#{execution.name}",
        {
            "execution_arn": execution.id,
            "state": "RUNNING" if comparison.decision == "WAIT" else comparison.decision,
            "version": plan.version,
            "began_at": began.isoformat(timespec="seconds"),
            "comparison": comparison.model_dump(mode="json"),
        },
    )
    if comparison.decision != "WAIT":
        _record(plan, comparison, registry)
    return comparison


def _figures(
    metrics: EndpointMetrics, variant: str, weight: int, start: datetime, end: datetime
) -> VariantFigures:
    requests = int(metrics.statistic(variant, "Invocations", "Sum", start, end) or 0)
    errors = int(metrics.statistic(variant, "Invocation5XXErrors", "Sum", start, end) or 0)
    latency_us = metrics.statistic(variant, "ModelLatency", "Average", start, end)
    return VariantFigures(
        variant=variant,
        weight_percent=weight,
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else None,
        latency_ms=None if latency_us is None else latency_us / 1000,
    )


def _join_quality(
    plan: DeployPlan,
    ab: dict[str, Any],
    settings: ABTestSettings,
    store: S3Store,
    live: VariantFigures,
    candidate: VariantFigures,
) -> str | None:
    labels = ab_quality.read_labels(store, settings.artifacts_bucket, plan.endpoint_name)
    if not labels:
        return None
    answers = ab_quality.captured_predictions(store, ab["capture_uri"], plan.endpoint_name)
    for figures in (live, candidate):
        figures.labelled, figures.quality, figures.quality_error = ab_quality.quality(
            answers.get(figures.variant, {}),
            labels,
            settings.problem_type,
            settings.positive_label,
        )
    if live.quality is None or candidate.quality is None:
        return None
    return ab_quality.metric_name(settings.problem_type)


def _window_over(c: ABComparison, s: ABTestSettings) -> bool:
    enough = min(c.live.requests, c.candidate.requests) >= s.ab_min_requests
    return c.elapsed_seconds >= s.ab_window_seconds or enough


def _time_left(c: ABComparison, s: ABTestSettings) -> str:
    return (
        f"{max(0, s.ab_window_seconds - c.elapsed_seconds)} s left, or until both variants "
        f"served {s.ab_min_requests} requests ({c.live.requests} and {c.candidate.requests} so far)"
    )


def _problems(c: ABComparison, s: ABTestSettings) -> list[str]:
    live, cand = c.live, c.candidate
    problems = []
    if cand.requests < s.ab_min_requests:
        problems.append(f"{cand.requests} candidate requests, fewer than {s.ab_min_requests}")
    increase = (cand.error_rate or 0.0) - (live.error_rate or 0.0)
    if increase > s.ab_max_error_rate_increase:
        problems.append(
            f"error rate {cand.error_rate:.3f} against {live.error_rate or 0.0:.3f}, up more "
            f"than {s.ab_max_error_rate_increase}"
        )
    if cand.latency_ms and live.latency_ms:
        ratio = cand.latency_ms / live.latency_ms
        if ratio > s.ab_max_latency_ratio:
            problems.append(
                f"latency {ratio:.2f}x the live version's, above {s.ab_max_latency_ratio}x"
            )
    if c.quality_metric and live.quality is not None and cand.quality is not None:
        gain = ab_quality.advantage(s.problem_type, live.quality, cand.quality)
        if ab_quality.worse_beyond_doubt(
            gain, live.quality_error or 0.0, cand.quality_error or 0.0, s.ab_min_quality_difference
        ):
            problems.append(
                f"{c.quality_metric} {cand.quality:.4f} against {live.quality:.4f}, a difference "
                f"of {gain:+.4f}, below {s.ab_min_quality_difference:+} beyond its 95% bound"
            )
    return problems


def _record(plan: DeployPlan, c: ABComparison, registry: ModelRegistry) -> None:
    """The comparison on the package (ab_* keys); a stopped candidate is Rejected, as a
    discarded shadow test's is, so the champion stays the newest Approved version."""
    quality = (
        f"{c.quality_metric} {c.live.quality:.4f}/{c.candidate.quality:.4f}"
        if c.quality_metric and c.live.quality is not None and c.candidate.quality is not None
        else "not available"
    )
    properties = {
        "ab_decision": c.decision,
        "ab_decided_by": c.decided_by,
        "ab_requests": f"{c.live.requests}/{c.candidate.requests}",
        "ab_error_rates": f"{_fmt(c.live.error_rate)}/{_fmt(c.candidate.error_rate)}",
        "ab_latency_ms": f"{_fmt(c.live.latency_ms)}/{_fmt(c.candidate.latency_ms)}",
        "ab_quality": quality,
        "ab_reason": c.reason,
    }
    registry.annotate(plan.model_package_arn, {k: v[:MAX_PROPERTY] for k, v in properties.items()})
    if c.decision == "STOP":
        registry.set_approval(
            plan.model_package_arn, "Rejected", f"A/B test stopped it: {c.reason}"[:1024]
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
