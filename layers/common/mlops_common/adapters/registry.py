from datetime import datetime, timedelta
from typing import Any


class ModelRegistry:
    """SageMaker Model Registry, scoped to one model package group."""

    def __init__(self, sagemaker_client: Any, group: str) -> None:
        self._sm = sagemaker_client
        self.group = group

    def approved_packages(self) -> list[dict[str, Any]]:
        """Approved versions of the group, newest first (summaries)."""
        paginator = self._sm.get_paginator("list_model_packages")
        pages = paginator.paginate(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
        )
        summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
        return sorted(summaries, key=lambda s: s.get("ModelPackageVersion", 0), reverse=True)

    def created_by(self, execution_arn: str, since: datetime | None) -> dict[str, Any] | None:
        """The package `execution_arn` created (its MetadataProperties.GeneratedBy), looking at
        the group's versions created since `since` (all of them without it), newest first."""
        paginator = self._sm.get_paginator("list_model_packages")
        request: dict[str, Any] = {"ModelPackageGroupName": self.group, "SortOrder": "Descending"}
        if since is not None:
            request["CreationTimeAfter"] = since - timedelta(minutes=1)  # clock skew
        for page in paginator.paginate(**request):
            for summary in page["ModelPackageSummaryList"]:
                package = self.describe(summary["ModelPackageArn"])
                generated_by = (package or {}).get("MetadataProperties", {}).get("GeneratedBy")
                if generated_by == execution_arn:
                    return package
        return None

    def describe(self, arn: str) -> dict[str, Any] | None:
        try:
            return self._sm.describe_model_package(ModelPackageName=arn)
        except self._sm.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                return None
            raise

    def create(self, request: dict[str, Any]) -> str:
        return self._sm.create_model_package(ModelPackageGroupName=self.group, **request)[
            "ModelPackageArn"
        ]

    def annotate(self, arn: str, properties: dict[str, str]) -> None:
        """Adds or updates CustomerMetadataProperties (UpdateModelPackage merges them)."""
        self._sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties=properties)

    def set_approval(self, arn: str, status: str, description: str) -> None:
        self._sm.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description[:1024]
        )


def container_of(package: dict[str, Any]) -> dict[str, Any]:
    """The serving container of a package (Image, ModelDataUrl, Environment)."""
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if not containers:
        raise ValueError(f"{package.get('ModelPackageArn')} has no inference container")
    return containers[0]
