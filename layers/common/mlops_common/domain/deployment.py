"""Planning a deployment of an approved package and judging how it ended."""

import hashlib
from typing import Any

from ..adapters.endpoints import Endpoints
from ..adapters.registry import ModelRegistry, container_of
from ..errors import (
    DeploymentFailed,
    DeploymentRolledBack,
    EventMalformed,
    ModelPackageNotFound,
    UpdateRollbackFailed,
)
from ..models import DeployPlan, Execution, VerifyDeploymentOutput
from ..settings import DeploySettings
from .events import parse_model_package_change


def resource_name(endpoint: str, version: int, execution_name: str) -> str:
    """Unique per deployment (a new config per update, never reused) and at most 63 chars."""
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:8]
    return f"{endpoint[:44]}-v{version}-{digest}"


def live_package_version(endpoints: Endpoints, endpoint: dict[str, Any]) -> int | None:
    """The package version an endpoint serves, read from the name of its config."""
    config = endpoint.get("EndpointConfigName", "")
    head, _, tail = config.rpartition("-v")
    version = tail.split("-", 1)[0]
    return int(version) if head and version.isdigit() else None


def plan_deployment(
    event: dict[str, Any], execution: Execution, settings: DeploySettings,
    registry: ModelRegistry, endpoints: Endpoints,
) -> DeployPlan:
    detail = parse_model_package_change(event).detail
    if detail.ModelPackageGroupName != settings.model_package_group:
        raise EventMalformed(f"package group {detail.ModelPackageGroupName} is not this stack's")
    base = {"model_package_arn": detail.ModelPackageArn, "version": detail.ModelPackageVersion,
            "endpoint_name": settings.endpoint_name}
    package = registry.describe(detail.ModelPackageArn)
    if package is None:
        raise ModelPackageNotFound(f"{detail.ModelPackageArn} does not exist")
    if package["ModelApprovalStatus"] != "Approved":
        return DeployPlan(action="SKIP", reason="stale event: the package is now "
                          f"{package['ModelApprovalStatus']}", **base)
    endpoint = endpoints.describe(settings.endpoint_name)
    if endpoint is not None:
        if endpoint["EndpointStatus"] == "Failed":  # serves nothing; only DeleteEndpoint helps
            raise DeploymentFailed(f"{settings.endpoint_name} is Failed "
                                   f"({endpoint.get('FailureReason') or 'no reason given'}); "
                                   "delete it, then replay this event")
        if live_package_version(endpoints, endpoint) == detail.ModelPackageVersion:
            return DeployPlan(action="SKIP", reason=f"version {detail.ModelPackageVersion} is "
                              f"already live on {settings.endpoint_name}", **base)
        if endpoint["EndpointStatus"] != "InService":
            raise DeploymentFailed(f"{settings.endpoint_name} is {endpoint['EndpointStatus']}; "
                                   "another deployment is in progress, replay this event later")
    name = resource_name(settings.endpoint_name, detail.ModelPackageVersion, execution.name)
    container = container_of(package)
    tags = [{"Key": "mlops:model-package-arn", "Value": detail.ModelPackageArn},
            {"Key": "mlops:execution", "Value": execution.name}]
    return DeployPlan(
        action="DEPLOY", reason="approved package", endpoint_exists=endpoint is not None,
        previous_config=endpoint["EndpointConfigName"] if endpoint else None,
        model={"ModelName": name, "ExecutionRoleArn": settings.sagemaker_role_arn,
               "PrimaryContainer": {k: container[k] for k in ("Image", "ModelDataUrl",
                                                               "Environment") if k in container},
               "Tags": tags},
        endpoint_config={"EndpointConfigName": name, "Tags": tags, "ProductionVariants": [{
            "VariantName": settings.variant_name, "ModelName": name,
            "InitialInstanceCount": settings.inference_instance_count,
            "InstanceType": settings.inference_instance_type, "InitialVariantWeight": 1.0}]},
        deployment_config={},
        **base,
    )


def verify_deployment(
    plan: DeployPlan, endpoint: dict[str, Any], registry: ModelRegistry
) -> VerifyDeploymentOutput:
    """Success is InService AND the target config: a rolled-back update also ends InService."""
    status = endpoint["EndpointStatus"]
    config = endpoint.get("EndpointConfigName", "")
    target = plan.endpoint_config["EndpointConfigName"]
    reason = endpoint.get("FailureReason") or ""
    if status == "InService" and config == target:
        return VerifyDeploymentOutput(endpoint_name=plan.endpoint_name,
                                      endpoint_config_name=config, status=status)
    if status == "InService":
        why = f"deployment rolled back to {config}: {reason or 'no reason given'}"
        registry.set_approval(plan.model_package_arn, "Rejected", why)
        raise DeploymentRolledBack(f"version {plan.version} rejected; {why}")
    if status == "UpdateRollbackFailed":
        raise UpdateRollbackFailed(f"{plan.endpoint_name}: update and rollback failed; the "
                                   f"fleet may be mixed. {reason}")
    raise DeploymentFailed(f"{plan.endpoint_name} ended {status}: {reason or 'no reason given'}")
