"""Declaring a feature schema change (`mlops schema accept`): the operator's decision that the
next dataset may have other features than the champion's, recorded in the ledger where
ValidateDataset reads it (mlops_common.domain.feature_schema). The declaration holds while the
champion it was declared against is the champion; the first version trained on the new schema
is judged on MinimumMetric alone, and its lineage names the declaration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from mlops.control.errors import Refused, UsageError
from mlops.control.plane import ControlPlane


def accept(plane: ControlPlane, reason: str) -> dict[str, Any]:
    """Appends the declaration, as the calling identity, against the current champion."""
    from mlops_common.domain.champion import champion
    from mlops_common.domain.feature_schema import schema_key, to_entry

    if not reason.strip():
        raise UsageError("a schema change needs a reason (--reason)")
    current = champion(plane.registry)
    if current is None:
        raise Refused(
            "no champion yet: every dataset is judged on MinimumMetric alone; nothing to declare"
        )
    entry = to_entry(
        reason.strip(),
        plane.identity,
        datetime.now(UTC).isoformat(timespec="seconds"),
        current,
    )
    plane.ledger.append(schema_key(plane.package_group), entry, tag=uuid.uuid4().hex[:12])
    return entry


def current(plane: ControlPlane) -> dict[str, Any]:
    """The newest declaration and whether it still holds (its champion is the champion)."""
    from mlops_common.domain.champion import champion
    from mlops_common.domain.feature_schema import declaration

    declared = declaration(plane.package_group, plane.ledger)
    now = champion(plane.registry)
    holds = declared is not None and declared.replaces_version == (now.version if now else None)
    return {
        "declaration": declared.model_dump() if declared else None,
        "holds": holds,
        "champion_version": now.version if now else None,
        "champion_feature_schema": now.feature_schema_uri if now else None,
    }
