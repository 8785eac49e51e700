"""Schema changes are decided before any job runs: a new dataset's features against the
champion's feature schema (names, order, types), and the operator's declaration of a change.

Each registered version records its feature schema in the registry (domain.registration): the
schema JSON the evaluation job wrote under the run's prefix (`feature_schema.json`: features in
order with their types, and the label) by URI and SHA-256, as CustomerMetadataProperties values
are at most 256 characters ("CreateModelPackage", Amazon SageMaker API Reference). A dataset
whose header differs from the champion's schema is refused with DatasetInvalid naming the
missing and extra columns and any change of order, unless the operator declared a schema change
(`mlops schema accept --reason R`): an audit entry under `schema#<model package group>`, which
holds while the champion it was declared against is the champion. The run then trains without a
champion: its version is judged on MinimumMetric alone, and its lineage says why.
"""

import hashlib
import json
from typing import Any

from ..adapters.ledger import Ledger
from ..adapters.s3 import S3Store, split_s3_uri
from ..errors import DatasetInvalid, ModelProvenanceInvalid
from ..models import Champion, SchemaChange

MAX_SHOWN = 8


def schema_key(package_group: str) -> str:
    """The ledger key of the operator's schema change declarations for a model package group."""
    return f"schema#{package_group}"


def record(schema_uri: str, store: S3Store) -> dict[str, str]:
    """The CustomerMetadataProperties that pin a version's feature schema ({} if the training
    code wrote none)."""
    digest = store.sha256(schema_uri)
    if digest is None:
        return {}
    return {"feature_schema": schema_uri, "feature_schema_sha256": digest}


def judge(
    features: list[str],
    champion: Champion | None,
    package_group: str,
    store: S3Store,
    ledger: Ledger,
) -> tuple[Champion | None, SchemaChange | None]:
    """(the champion to compare with, the declared change the run trains on) for a dataset with
    `features` (its header without the label, in order); DatasetInvalid for an undeclared
    change. A champion registered without a schema is not compared."""
    if champion is None or not champion.feature_schema_uri:
        return champion, None
    expected = _features(champion, store)
    differences = differ(expected, features)
    if not differences:
        return champion, None
    declared = declaration(package_group, ledger)
    if declared is not None and declared.replaces_version == champion.version:
        return None, declared
    raise DatasetInvalid(
        f"the features differ from the feature schema of the champion (version "
        f"{champion.version}): {differences}; if the change is intended, declare it with "
        "`mlops schema accept --reason R` and upload again"
    )


def differ(expected: list[str], found: list[str]) -> str:
    """What changed from `expected` to `found`, in one line; "" if nothing."""
    if expected == found:
        return ""
    missing = [name for name in expected if name not in set(found)]
    extra = [name for name in found if name not in set(expected)]
    problems = []
    if missing:
        problems.append(f"missing {_shown(missing)}")
    if extra:
        problems.append(f"extra {_shown(extra)}")
    if not missing and not extra:
        at = next(i for i, (a, b) in enumerate(zip(expected, found, strict=True)) if a != b)
        problems.append(
            f"order changed (column {at + 1} is {found[at]!r}, the schema has {expected[at]!r})"
        )
    return ", ".join(problems)


def declaration(package_group: str, ledger: Ledger) -> SchemaChange | None:
    """The newest declaration for the group, if any."""
    entries = ledger.entries(schema_key(package_group))
    if not entries:
        return None
    newest = entries[-1]
    version = newest.get("replaces_version")
    return SchemaChange(
        reason=str(newest.get("reason", "")),
        declared_by=str(newest.get("declared_by", "unknown")),
        declared_at=str(newest.get("declared_at") or newest["sk"].split("#", 2)[1]),
        replaces_version=None if version is None else int(version),
    )


def _features(champion: Champion, store: S3Store) -> list[str]:
    """The champion's feature names in order, from the schema its registration pinned."""
    assert champion.feature_schema_uri
    bucket, key = split_s3_uri(champion.feature_schema_uri)
    try:
        data = store.read_bytes(bucket, key)
    except Exception as exc:
        raise ModelProvenanceInvalid(
            f"the feature schema of version {champion.version} cannot be read "
            f"({champion.feature_schema_uri}: {type(exc).__name__})"
        ) from exc
    if hashlib.sha256(data).hexdigest() != champion.feature_schema_sha256:
        raise ModelProvenanceInvalid(
            f"the feature schema of version {champion.version} changed since it was registered "
            f"({champion.feature_schema_uri})"
        )
    schema: dict[str, Any] = json.loads(data)
    return [str(feature["name"]) for feature in schema["features"]]


def _shown(names: list[str]) -> str:
    more = len(names) - MAX_SHOWN
    return str(names[:MAX_SHOWN]) + (f" and {more} more" if more > 0 else "")


def describe(change: SchemaChange) -> str:
    """One line for the gate and the lineage (characters a metadata value may hold)."""
    against = f" from version {change.replaces_version}" if change.replaces_version else ""
    return (
        f"schema change{against} declared by {change.declared_by}: {change.reason} - "
        "judged on MinimumMetric alone"
    )


def to_entry(reason: str, declared_by: str, declared_at: str, champion: Champion | None) -> dict:
    """The audit entry `mlops schema accept` appends under schema_key."""
    return {
        "kind": "schema_change",
        "reason": reason,
        "declared_by": declared_by,
        "declared_at": declared_at,
        **({"replaces_version": champion.version} if champion else {}),
    }
