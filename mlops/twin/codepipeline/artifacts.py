"""The pipeline's artifact store: every output artifact is one object in the pipeline's S3
bucket, keyed `<pipeline name, 20 chars>/<artifact name, 10 chars>/<random>` as CodePipeline
keys them (ListActionExecutions' s3location: "myPipeline/SourceArti/key")."""

from __future__ import annotations

import io
import secrets
import string
import zipfile
from pathlib import Path
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


def extract(s3: Any, detail: dict[str, Any], target: Path) -> Path:
    """Unzip an input artifact (ArtifactDetail) into `target`; the directory."""
    location = detail["s3location"]
    body = s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        archive.extractall(target)
    return target


def upload(s3: Any, detail: dict[str, Any], files: dict[str, bytes]) -> None:
    """Write an output artifact: `files` (name in the zip -> content), zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    location = detail["s3location"]
    s3.put_object(Bucket=location["bucket"], Key=location["key"], Body=buffer.getvalue())
