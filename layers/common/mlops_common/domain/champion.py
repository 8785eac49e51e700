"""The champion: the newest Approved version of the stack's model package group.

This is the only definition (design decision D2). Evaluation scores it beside each challenger,
the gate compares against its score, a deployment goes ahead only if its version is still the
champion when its turn on the endpoint comes (else it is Superseded), and rollback and the
notifications name it. It is what the endpoint converges to: every approval deploys the newest
approved version, and a guardrail rollback, a failed provenance check or a rollback marks the
version Rejected, which moves the champion back to the version that serves.

"Newest" is the highest ModelPackageVersion: SageMaker numbers the versions of a group in the
order they are created ("Create a Model Version", SageMaker developer guide).
"""

from ..adapters.registry import ModelRegistry, container_of
from ..models import Champion


def champion(registry: ModelRegistry, exclude_arn: str | None = None) -> Champion | None:
    """The newest Approved version (other than `exclude_arn`), None if there is none."""
    for summary in registry.approved_packages():
        if summary["ModelPackageArn"] == exclude_arn:
            continue
        package = registry.describe(summary["ModelPackageArn"])
        if package is None or package.get("ModelApprovalStatus") != "Approved":
            continue  # deleted or changed since the listing
        lineage = package.get("CustomerMetadataProperties") or {}
        return Champion(
            model_package_arn=package["ModelPackageArn"],
            version=package["ModelPackageVersion"],
            model_data_url=container_of(package)["ModelDataUrl"],
            feature_schema_uri=lineage.get("feature_schema"),
            feature_schema_sha256=lineage.get("feature_schema_sha256"),
        )
    return None
