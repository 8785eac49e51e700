"""The pipeline's artifact store: every output artifact is one object in the pipeline's S3
bucket, keyed `<pipeline name, 20 chars>/<artifact name, 10 chars>/<random>` as CodePipeline
keys them (ListActionExecutions' s3location: "myPipeline/SourceArti/key")."""

from __future__ import annotations

import secrets
import string
from typing import Any

_KEY_CHARS = string.ascii_letters + string.digits


def store_bucket(declaration: dict[str, Any], region: str) -> str:
    store = declaration.get("artifactStore") or (declaration.get("artifactStores") or {}).get(
        region
    )
    if not store or store.get("type", "S3") != "S3":
        raise ValueError("the pipeline has no S3 artifact store for this region")
    return str(store["location"])


def allocate(declaration: dict[str, Any], region: str, artifact: str) -> dict[str, Any]:
    """An ArtifactDetail for a new output artifact (the object is written by the action)."""
    key = "/".join(
        [
            str(declaration["name"])[:20],
            artifact[:10],
            "".join(secrets.choice(_KEY_CHARS) for _ in range(7)),
        ]
    )
    return {
        "name": artifact,
        "s3location": {"bucket": store_bucket(declaration, region), "key": key},
    }
