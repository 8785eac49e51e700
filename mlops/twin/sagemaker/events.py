"""SageMaker state-change events onto the default bus, shaped as AWS documents them (SageMaker
developer guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge",
automating-sagemaker-with-eventbridge.html). moto emits none of them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlops.twin.events.emit import put_aws_event
from mlops.twin.sagemaker.backend import sagemaker_backend

SOURCE = "aws.sagemaker"


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plain(value: Any) -> Any:
    """Datetimes as ISO strings, as the event details carry them."""
    return json.loads(json.dumps(value, default=_isoformat))


class SageMakerEvents:
    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.emitted: list[dict[str, Any]] = []

    def _put(self, detail_type: str, detail: dict[str, Any], resource: str) -> None:
        event_id = put_aws_event(
            self.account, self.region, SOURCE, detail_type, _plain(detail), [resource]
        )
        self.emitted.append({"id": event_id, "detail-type": detail_type, "resource": resource})

    def package_changed(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        """After CreateModelPackage / UpdateModelPackage: the package as it now is."""
        arn = response.get("ModelPackageArn") or request["ModelPackageArn"]
        backend = sagemaker_backend(self.account, self.region)
        package = backend.describe_model_package(arn).gen_response_object()
        keys = (
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelPackageArn",
            "ModelPackageName",
            "ModelPackageDescription",
            "CreationTime",
            "InferenceSpecification",
            "ModelPackageStatus",
            "ModelApprovalStatus",
            "ApprovalDescription",
            "LastModifiedTime",
            "ModelMetrics",
            "CustomerMetadataProperties",
        )
        detail = {k: package[k] for k in keys if package.get(k) is not None}
        detail.setdefault("ModelPackageStatus", "Completed")
        detail.setdefault("LastModifiedTime", package.get("CreationTime"))
        self._put("SageMaker Model Package State Change", detail, arn)

    def job_changed(self, kind: str, job: Any) -> None:
        described = job.response_object
        if kind == "training":
            self._put("SageMaker Training Job State Change", described, described["TrainingJobArn"])
        else:
            self._put(
                "SageMaker Processing Job State Change", described, described["ProcessingJobArn"]
            )

    def endpoint_changed(self, described: dict[str, Any]) -> None:
        detail_type = (
            "SageMaker Endpoint Deployment State Change"
            if described.get("PendingDeploymentSummary")
            else "SageMaker Endpoint State Change"
        )
        self._put(detail_type, described, described["EndpointArn"])
