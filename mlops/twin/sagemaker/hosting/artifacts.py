"""Stage a model the way the SageMaker hosting platform and scikit-learn container do.

ModelDataUrl (model.tar.gz) is extracted into <dir>/model (the container's /opt/ml/model).
SAGEMAKER_SUBMIT_DIRECTORY is either an S3 sourcedir.tar.gz (extracted into <dir>/code)
or a path inside /opt/ml/model (the SDK's repacked layout, e.g. /opt/ml/model/code).
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.twin.aws.s3_uri import S3UriError, split_s3_uri

CONTAINER_MODEL_DIR = "/opt/ml/model"


class StagingError(Exception):
    """The model artefacts could not be fetched or unpacked."""


@dataclass(frozen=True)
class StagedModel:
    model_dir: Path
    code_dir: Path | None
    program: str | None


def _download_and_extract(s3: Any, url: str, into: Path) -> None:
    try:
        bucket, key = split_s3_uri(url)
    except S3UriError as exc:
        raise StagingError(f"Not an S3 URL: {url}") from exc
    into.mkdir(parents=True, exist_ok=True)
    archive = into.parent / f"{into.name}.tar.gz"
    try:
        s3.download_file(bucket, key, str(archive))
    except Exception as exc:  # botocore ClientError and friends
        raise StagingError(f"Could not download {url}: {exc}") from exc
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")  # "data" refuses absolute/outside paths
    except (tarfile.TarError, OSError) as exc:
        raise StagingError(f"Could not extract {url}: {exc}") from exc
    finally:
        archive.unlink(missing_ok=True)


def stage_model(
    container: dict[str, Any], instance_dir: Path, s3_client_factory: Callable[[], Any]
) -> StagedModel:
    """Fetch one container's artefacts into `instance_dir` and say where they are."""
    environment = container.get("Environment") or {}
    model_dir = instance_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    s3 = s3_client_factory()
    if container.get("ModelDataUrl"):
        _download_and_extract(s3, container["ModelDataUrl"], model_dir)

    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
    code_dir: Path | None = None
    if submit and submit.startswith("s3://"):
        code_dir = instance_dir / "code"
        _download_and_extract(s3, submit, code_dir)
    elif submit and submit.startswith(CONTAINER_MODEL_DIR):
        code_dir = model_dir / submit[len(CONTAINER_MODEL_DIR) :].lstrip("/")
    elif (model_dir / "code").is_dir():
        code_dir = model_dir / "code"
    return StagedModel(model_dir, code_dir, environment.get("SAGEMAKER_PROGRAM"))
