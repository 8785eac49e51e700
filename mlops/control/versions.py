"""The stack's model package group as a table, and an operator's approval or rejection.

The champion is the workflows' own definition (the newest Approved version: the layer's
`domain.champion`), the live version the endpoint's (endpoint.py). Approving or rejecting
only changes the package's approval status, with the operator's identity and note in its
ApprovalDescription; the stack's rules turn that change into a deployment or a rollback.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.control.endpoint import live_version
from mlops.control.errors import NotFound, Refused
from mlops.control.plane import ControlPlane


@dataclass(frozen=True)
class VersionView:
    version: int
    status: str
    arn: str
    created: datetime | None
    lineage: dict[str, str]  # CustomerMetadataProperties
    approval_description: str | None
    live: bool
    champion: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "arn": self.arn,
            "created": self.created.isoformat() if self.created else None,
            "metric": self.lineage.get("metric"),
            "score": _number(self.lineage.get("score")),
            "champion_score": _number(self.lineage.get("champion_score")),
            "dataset": self.lineage.get("dataset_uri"),
            "dataset_version": self.lineage.get("dataset_version"),
            "code_version": self.lineage.get("code_version"),
            "candidate": self.lineage.get("candidate"),
            "algorithm": self.lineage.get("algorithm"),
            # The training job's TrainingTime/BillableTimeInSeconds and the spot saving.
            "training_seconds": _number(self.lineage.get("training_seconds")),
            "billable_seconds": _number(self.lineage.get("billable_seconds")),
            "spot_saving_percent": _number(self.lineage.get("spot_saving_percent")),
            "live": self.live,
            "champion": self.champion,
            "approval_description": self.approval_description,
        }


def _number(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def champion_version(plane: ControlPlane) -> int | None:
    from mlops_common.domain.champion import champion

    found = champion(plane.registry)
    return None if found is None else found.version


def _summaries(plane: ControlPlane, status: str | None = None) -> list[dict[str, Any]]:
    paginator = plane.client("sagemaker").get_paginator("list_model_packages")
    filters = {"ModelApprovalStatus": status} if status else {}
    pages = paginator.paginate(ModelPackageGroupName=plane.package_group, **filters)
    summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
    return sorted(summaries, key=lambda s: s.get("ModelPackageVersion", 0))


def _view(plane: ControlPlane, arn: str, live: int | None, champion: int | None) -> VersionView:
    package = plane.registry.describe(arn)
    if package is None:
        raise NotFound(f"no such model package: {arn}")
    version = package["ModelPackageVersion"]
    return VersionView(
        version=version,
        status=package["ModelApprovalStatus"],
        arn=package["ModelPackageArn"],
        created=package.get("CreationTime"),
        lineage=package.get("CustomerMetadataProperties", {}),
        approval_description=package.get("ApprovalDescription"),
        live=version == live,
        champion=version == champion,
    )


def list_versions(plane: ControlPlane, status: str | None = None) -> list[VersionView]:
    """Every version of the group (or those with one approval status), oldest first."""
    live = live_version(plane, plane.endpoints.describe(plane.endpoint_name))
    champion = champion_version(plane)
    return [_view(plane, s["ModelPackageArn"], live, champion) for s in _summaries(plane, status)]


def find_version(plane: ControlPlane, version: int) -> VersionView:
    summary = next((s for s in _summaries(plane) if s.get("ModelPackageVersion") == version), None)
    if summary is None:
        raise NotFound(f"no version {version} in model package group {plane.package_group}")
    live = live_version(plane, plane.endpoints.describe(plane.endpoint_name))
    return _view(plane, summary["ModelPackageArn"], live, champion_version(plane))


def approval_key(group: str) -> str:
    """The ledger key of a group's approval audit entries."""
    return f"approval#{group}"


def set_approval(plane: ControlPlane, version: int, status: str, note: str) -> VersionView:
    """Approves or rejects a version as the calling identity, and appends the audit entry."""
    target = find_version(plane, version)
    if target.status == status:
        raise Refused(f"version {version} is already {status}")
    who = plane.identity
    verb = "approved" if status == "Approved" else "rejected"
    plane.registry.set_approval(target.arn, status, f"{verb} by {who}: {note}")
    plane.ledger.append(
        approval_key(plane.package_group),
        {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "who": who,
            "version": version,
            "package_arn": target.arn,
            "from_status": target.status,
            "status": status,
            "note": note,
            "live": target.live,
        },
        tag=uuid.uuid4().hex[:12],
    )
    return find_version(plane, version)
