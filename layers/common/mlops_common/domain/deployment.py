"""Planning a deployment of an approved package and judging how it ended.

PlanDeployment runs once the execution holds the endpoint lock (domain.endpoint_lock), so no
other deployment or rollback of this stack is under way. A version deploys only if it is still
the champion (domain.champion) when its turn comes, else the plan is SUPERSEDED; an endpoint
still busy with a change made outside the control plane makes the plan WAIT for it, never fail.
"""

import hashlib
from typing import Any

from ..adapters.endpoints import Endpoints
from ..adapters.registry import ModelRegistry, container_of
from ..adapters.s3 import S3Store
from ..errors import (
    CandidateTestModesConflict,
    DeploymentFailed,
    DeploymentRolledBack,
    EventMalformed,
    ModelPackageNotFound,
    ModelProvenanceInvalid,
    UpdateRollbackFailed,
)
from ..models import DeploymentTarget, DeployPlan, Execution, VerifyDeploymentOutput
from ..settings import DeploySettings, RollbackSettings
from . import strategy
from .ab_test import AB_SUFFIX, ab_test
from .champion import champion
from .events import parse_model_package_change
from .provenance import provenance_failure, provenance_problems
from .shadow import shadow_test

# DescribeEndpoint statuses of a change still under way (botocore model sagemaker:
# EndpointStatus): a deployment or rollback waits for them to settle.
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


def resource_name(endpoint: str, version: int, execution_name: str) -> str:
    """Unique per deployment (a new config per update, never reused) and at most 63 chars."""
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:8]
    return f"{endpoint[:44]}-v{version}-{digest}"


SHADOW_SUFFIX = "-shadow"
#: Configs of a candidate test, named after the candidate; their first production variant is
#: the live version (domain.shadow, domain.ab_test).
TEST_SUFFIXES = (SHADOW_SUFFIX, AB_SUFFIX)


def version_in_name(config_name: str) -> int | None:
    """The package version a config or model name carries (`<endpoint>-v<N>-<hash>...`)."""
    head, _, tail = config_name.rpartition("-v")
    version = tail.split("-", 1)[0]
    return int(version) if head and version.isdigit() else None


def live_package_version(endpoints: Endpoints, endpoint: dict[str, Any]) -> int | None:
    """The package version an endpoint's production variant serves. A shadow-test config is
    named after its candidate, so the live version is read from its production model; so is
    an A/B test's, whose first production variant is the live version."""
    config = endpoint.get("EndpointConfigName", "")
    if config.endswith(TEST_SUFFIXES):
        config = endpoints.describe_config(config)["ProductionVariants"][0]["ModelName"]
    return version_in_name(config)


def plan_deployment(
    event: dict[str, Any],
    execution: Execution,
    settings: DeploySettings,
    registry: ModelRegistry,
    endpoints: Endpoints,
    store: S3Store,
) -> DeployPlan:
    detail = parse_model_package_change(event).detail
    if detail.ModelPackageGroupName != settings.model_package_group:
        raise EventMalformed(f"package group {detail.ModelPackageGroupName} is not this stack's")
    if settings.shadow_mode and settings.ab_test_mode:
        raise CandidateTestModesConflict(
            "ShadowMode and ABTestMode are both true: a candidate is tested as a shadow "
            "variant or in an A/B test, not both; set one of them to false"
        )
    # Validated before any AWS call: a bad strategy never reaches UpdateEndpoint.
    deployment_config = strategy.deployment_config(
        settings.deployment_strategy,
        settings.canary_size_percent,
        settings.linear_step_percent,
        settings.bake_seconds,
        settings.termination_wait_seconds,
        settings.max_execution_timeout_seconds,
        [settings.error_alarm_name, settings.latency_alarm_name],
    )
    base: dict[str, Any] = {
        "model_package_arn": detail.ModelPackageArn,
        "version": detail.ModelPackageVersion,
        "endpoint_name": settings.endpoint_name,
        "execution_name": execution.name,
    }
    package = registry.describe(detail.ModelPackageArn)
    if package is None:
        raise ModelPackageNotFound(f"{detail.ModelPackageArn} does not exist")
    if package["ModelApprovalStatus"] != "Approved":
        return DeployPlan(
            action="SKIP",
            reason=f"stale event: the package is now {package['ModelApprovalStatus']}",
            **base,
        )
    newest = base["champion"] = champion(registry)
    if newest is not None and newest.version > detail.ModelPackageVersion:
        return DeployPlan(
            action="SUPERSEDED",
            reason=f"version {detail.ModelPackageVersion} was superseded by version "
            f"{newest.version}, the newest approved version (the champion), which "
            f"{settings.endpoint_name} is left to",
            **base,
        )
    endpoint = endpoints.describe(settings.endpoint_name)
    if endpoint is not None:
        if endpoint["EndpointStatus"] == "Failed":  # serves nothing; only DeleteEndpoint helps
            raise DeploymentFailed(
                f"{settings.endpoint_name} is Failed "
                f"({endpoint.get('FailureReason') or 'no reason given'}); "
                "delete it, then replay this event"
            )
        pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        current = endpoint.get("EndpointConfigName", "")
        if current.endswith(TEST_SUFFIXES) and version_in_name(current) == (
            detail.ModelPackageVersion
        ):
            return DeployPlan(
                action="SKIP",
                reason=f"version {detail.ModelPackageVersion} is in a candidate test on "
                f"{settings.endpoint_name}",
                **base,
            )
        if pending and version_in_name(pending) == detail.ModelPackageVersion:
            # Every change to a package emits an event (e.g. recording its shadow comparison):
            # a rollout of this version already running is not a reason to fail.
            return DeployPlan(
                action="SKIP",
                reason=f"version {detail.ModelPackageVersion} is being rolled out to "
                f"{settings.endpoint_name} by another execution",
                **base,
            )
        if live_package_version(endpoints, endpoint) == detail.ModelPackageVersion:
            return DeployPlan(
                action="SKIP",
                reason=f"version {detail.ModelPackageVersion} is "
                f"already live on {settings.endpoint_name}",
                **base,
            )
        if endpoint["EndpointStatus"] in BUSY:
            # This execution holds the lock: the change is someone else's, outside the
            # control plane. Wait for it to settle, then plan again.
            return DeployPlan(
                action="WAIT",
                reason=f"{settings.endpoint_name} is {endpoint['EndpointStatus']} by a change "
                "outside the control plane; waiting for it to settle",
                **base,
            )
        if endpoint["EndpointStatus"] != "InService":
            raise DeploymentFailed(
                f"{settings.endpoint_name} is {endpoint['EndpointStatus']} "
                f"({endpoint.get('FailureReason') or 'no reason given'}); an operator must "
                "repair it before a deployment can run"
            )
    problems = provenance_problems(package, settings, store)
    if problems:  # nothing is created; the version is out of the champion's way
        why = provenance_failure(package, problems)
        registry.set_approval(detail.ModelPackageArn, "Rejected", why)
        raise ModelProvenanceInvalid(f"{why}; rejected, nothing deployed")
    requests = endpoint_requests(package, detail.ModelPackageVersion, execution.name, settings)
    shadow = {"enabled": False}
    if settings.shadow_mode and endpoint is not None:  # a first deployment has nothing to shadow
        shadow = shadow_test(endpoint, requests, settings, endpoints, execution.name)
    ab = {"enabled": False}
    if settings.ab_test_mode and endpoint is not None:  # an A/B test needs a live version
        ab = ab_test(endpoint, requests, settings, endpoints, execution.name)
    return DeployPlan(
        shadow=shadow,
        ab_test=ab,
        action="DEPLOY",
        reason="approved package",
        endpoint_exists=endpoint is not None,
        previous_config=endpoint["EndpointConfigName"] if endpoint else None,
        deployment_config=deployment_config,
        latency_alarm=strategy.new_fleet_latency_alarm(
            settings.latency_alarm_name,
            settings.endpoint_name,
            settings.variant_name,
            requests["endpoint_config"]["EndpointConfigName"],
            settings.latency_threshold_us,
            settings.alarm_period_seconds,
            settings.alarm_evaluation_periods,
        ),
        **requests,
        **base,
    )


def endpoint_requests(
    package: dict[str, Any],
    version: int,
    execution_name: str,
    settings: DeploySettings | RollbackSettings,
) -> dict[str, dict[str, Any]]:
    """CreateModel and CreateEndpointConfig requests serving `package` (one variant, the
    stack's variant name, so guardrails can compare old and new configs)."""
    name = resource_name(settings.endpoint_name, version, execution_name)
    container = container_of(package)
    tags = [
        {"Key": "mlops:model-package-arn", "Value": package["ModelPackageArn"]},
        {"Key": "mlops:execution", "Value": execution_name},
    ]
    return {
        "model": {
            "ModelName": name,
            "ExecutionRoleArn": settings.sagemaker_role_arn,
            "PrimaryContainer": {
                k: container[k] for k in ("Image", "ModelDataUrl", "Environment") if k in container
            },
            "Tags": tags,
        },
        "endpoint_config": {
            "EndpointConfigName": name,
            "Tags": tags,
            "ProductionVariants": [
                {
                    "VariantName": settings.variant_name,
                    "ModelName": name,
                    "InitialInstanceCount": settings.inference_instance_count,
                    "InstanceType": settings.inference_instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
            "DataCaptureConfig": live_data_capture(settings),
        },
    }


def live_data_capture(settings: DeploySettings | RollbackSettings) -> dict[str, Any]:
    """DataCaptureConfig of every live config (create, update and rollback alike), so drift
    checks see a steady share of requests and answers (SageMaker developer guide, "Capture data
    from real-time endpoint"). DataCapturePercent 0 keeps the shape with capture disabled, so
    the CreateEndpointConfig task's parameters stay the same."""
    return {
        "EnableCapture": settings.data_capture_percent > 0,
        "InitialSamplingPercentage": settings.data_capture_percent,
        "DestinationS3Uri": settings.data_capture_uri,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }


def verify_deployment(
    plan: DeploymentTarget,
    endpoint: dict[str, Any],
    registry: ModelRegistry,
    reject_on_rollback: bool = True,
) -> VerifyDeploymentOutput:
    """Success is InService AND the target config: a rolled-back update also ends InService.

    The package is rejected only for a rollback of this very update: the endpoint back on the
    config it had before (`plan.previous_config`) with a FailureReason, as SageMaker leaves it
    after an automatic rollback ("Auto-Rollback Configuration and Monitoring", SageMaker
    developer guide). An endpoint on any other config was changed by someone else: a healthy
    version is never rejected for that."""
    status = endpoint["EndpointStatus"]
    config = endpoint.get("EndpointConfigName", "")
    target = plan.endpoint_config["EndpointConfigName"]
    reason = endpoint.get("FailureReason") or ""
    if status == "InService" and config == target:
        return VerifyDeploymentOutput(
            endpoint_name=plan.endpoint_name, endpoint_config_name=config, status=status
        )
    if status == "InService":
        if config != plan.previous_config or not reason:
            raise DeploymentFailed(
                f"version {plan.version} not deployed and not judged: {plan.endpoint_name} "
                f"serves {config}, neither its target {target} nor a rollback of it to "
                f"{plan.previous_config} with a failure reason"
            )
        why = f"deployment rolled back to {config}: {reason}"
        if reject_on_rollback:
            registry.set_approval(plan.model_package_arn, "Rejected", why)
            raise DeploymentRolledBack(f"version {plan.version} rejected; {why}")
        raise DeploymentRolledBack(f"version {plan.version} not deployed; {why}")
    if status == "UpdateRollbackFailed":
        raise UpdateRollbackFailed(
            f"{plan.endpoint_name}: update and rollback failed; the fleet may be mixed. {reason}"
        )
    raise DeploymentFailed(f"{plan.endpoint_name} ended {status}: {reason or 'no reason given'}")
