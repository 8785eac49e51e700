"""Shadow tests: the candidate serves a copy of live traffic beside the live model, and is
promoted only if it answers as well: error rate, latency and agreement of predictions.

The comparison reads what SageMaker itself records: data capture (SageMaker developer guide,
"Capture data") for the answers of both variants, paired by the request's event id, and the
variants' CloudWatch metrics for errors and latency over the window.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ..adapters.endpoints import Endpoints
from ..adapters.metrics import EndpointMetrics
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..models import DeployPlan, ShadowComparison
from ..settings import DeploySettings, ShadowSettings
from ..timestamps import parse_timestamp
from .ab_quality import capture_records

SHADOW_VARIANT = "Shadow"


def shadow_test(
    endpoint: dict[str, Any],
    requests: dict[str, dict[str, Any]],
    settings: DeploySettings,
    endpoints: Endpoints,
    execution_name: str,
) -> dict[str, Any]:
    """The endpoint config of the shadow test: the live variant unchanged, the candidate as a
    shadow variant, data capture of both."""
    live = endpoints.describe_config(endpoint["EndpointConfigName"])["ProductionVariants"][0]
    candidate = requests["endpoint_config"]["ProductionVariants"][0]
    capture_uri = f"s3://{settings.artifacts_bucket}/shadow-tests/{execution_name}"
    keep = (
        "VariantName",
        "ModelName",
        "InitialInstanceCount",
        "InstanceType",
        "InitialVariantWeight",
    )
    return {
        "enabled": True,
        "window_seconds": settings.shadow_window_seconds,
        "capture_uri": capture_uri,
        "endpoint_config": {
            # Named after the candidate, at most 63 characters (deployment.SHADOW_SUFFIX).
            "EndpointConfigName": requests["endpoint_config"]["EndpointConfigName"][:56]
            + "-shadow",
            "ProductionVariants": [{k: live[k] for k in keep if k in live}],
            "ShadowProductionVariants": [
                {**{k: candidate[k] for k in keep if k in candidate}, "VariantName": SHADOW_VARIANT}
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": capture_uri,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            },
            "Tags": requests["endpoint_config"]["Tags"],
        },
    }


def compare_shadow(
    plan: DeployPlan,
    endpoint: dict[str, Any],
    settings: ShadowSettings,
    store: S3Store,
    metrics: EndpointMetrics,
    registry: ModelRegistry,
) -> ShadowComparison:
    shadow = plan.shadow
    live_variant = shadow["endpoint_config"]["ProductionVariants"][0]["VariantName"]
    answers = _captured_answers(store, shadow["capture_uri"], plan.endpoint_name)
    production, candidate = answers.get(live_variant, {}), answers.get(SHADOW_VARIANT, {})
    paired = [event for event in candidate if event in production]
    agreeing = sum(
        (labels := _labels(candidate[e])) is not None and labels == _labels(production[e])
        for e in paired
    )
    # The shadow test began when the endpoint last changed (its update to the shadow config).
    began = parse_timestamp(endpoint.get("LastModifiedTime"))
    start = (began or datetime.now(UTC) - timedelta(hours=1)) - timedelta(seconds=5)
    end = datetime.now(UTC) + timedelta(seconds=5)
    requests = metrics.statistic(SHADOW_VARIANT, "Invocations", "Sum", start, end) or 0.0
    errors = metrics.statistic(SHADOW_VARIANT, "Invocation5XXErrors", "Sum", start, end) or 0.0
    shadow_ms = _ms(metrics.statistic(SHADOW_VARIANT, "ModelLatency", "Average", start, end))
    live_ms = _ms(metrics.statistic(live_variant, "ModelLatency", "Average", start, end))
    comparison = ShadowComparison(
        decision="PROMOTE",
        reason="",
        requests=int(requests),
        paired=len(paired),
        agreement=agreeing / len(paired) if paired else None,
        shadow_error_rate=errors / requests if requests else None,
        shadow_latency_ms=shadow_ms,
        production_latency_ms=live_ms,
        latency_ratio=shadow_ms / live_ms if shadow_ms and live_ms else None,
        thresholds=settings.model_dump(
            include={
                "shadow_min_requests",
                "shadow_max_error_rate",
                "shadow_min_agreement",
                "shadow_max_latency_ratio",
            }
        ),
    )
    problems = _problems(comparison, settings)
    comparison.decision = "DISCARD" if problems else "PROMOTE"
    comparison.reason = "; ".join(problems) or "the candidate answered as well as production"
    registry.annotate(
        plan.model_package_arn,
        {
            "shadow_decision": comparison.decision,
            "shadow_requests": str(comparison.requests),
            "shadow_agreement": _fmt(comparison.agreement),
            "shadow_error_rate": _fmt(comparison.shadow_error_rate),
            "shadow_latency_ratio": _fmt(comparison.latency_ratio),
        },
    )
    if problems:
        registry.set_approval(
            plan.model_package_arn, "Rejected", f"shadow test discarded it: {comparison.reason}"
        )
    return comparison


def _problems(c: ShadowComparison, s: ShadowSettings) -> list[str]:
    problems = []
    if c.requests < s.shadow_min_requests:
        problems.append(f"{c.requests} shadow requests, fewer than {s.shadow_min_requests}")
    if c.shadow_error_rate is not None and c.shadow_error_rate > s.shadow_max_error_rate:
        problems.append(f"error rate {c.shadow_error_rate:.3f} above {s.shadow_max_error_rate}")
    if c.agreement is None or c.agreement < s.shadow_min_agreement:
        problems.append(f"agreement {_fmt(c.agreement)} below {s.shadow_min_agreement}")
    if c.latency_ratio is not None and c.latency_ratio > s.shadow_max_latency_ratio:
        problems.append(
            f"latency {c.latency_ratio:.2f}x production, above {s.shadow_max_latency_ratio}x"
        )
    return problems


def _captured_answers(store: S3Store, capture_uri: str, endpoint: str) -> dict[str, dict]:
    """variant -> {event id: output data} from the data-capture JSON lines."""
    answers: dict[str, dict] = {}
    for variant, record in capture_records(store, capture_uri, endpoint):
        output = record.get("captureData", {}).get("endpointOutput")
        if output is not None:
            answers.setdefault(variant, {})[record["eventMetadata"]["eventId"]] = output
    return answers


def _labels(output: dict[str, Any]) -> list[Any] | None:
    try:
        data = output["data"]
        if output.get("encoding") == "BASE64":
            data = base64.b64decode(data).decode()
        if output.get("observedContentType", "").startswith("text/csv"):
            return [int(float(line)) for line in data.splitlines() if line.strip()]
        return [p["label"] for p in json.loads(data)["predictions"]]
    except (KeyError, TypeError, ValueError):
        return None


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
