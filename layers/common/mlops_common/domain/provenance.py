"""Provenance of what is deployed: recorded at registration, verified before any deployment.

A model package names a container image, model data and code in S3, and CreateModel serves
whatever those locations hold when the model server starts. Registration therefore records
the SHA-256 of the model artifact and of the code tarball in the package's
CustomerMetadataProperties (values of at most 256 characters, "ModelPackage",
CustomerMetadataProperties, SageMaker API reference). Before PlanDeployment or PlanRollback
builds any CreateModel request, `provenance_problems` checks that

- the container image is the stack's InferenceImageUri (the template parameter);
- the model data is under this stack's `s3://<ArtifactsBucket>/runs/`, where only the training
  jobs write, and its SHA-256 now is the one recorded at registration;
- the code (SAGEMAKER_SUBMIT_DIRECTORY) is under `s3://<ArtifactsBucket>/code/`, whose
  versions are immutable (mlops/code_package.py), and its SHA-256 is the one recorded.

A deployment of a package that fails any of them ends ModelProvenanceInvalid naming every
problem, before anything is created; a rollback passes over such a version.
"""

from typing import Any

from ..adapters.registry import container_of
from ..adapters.s3 import S3Store, split_s3_uri
from ..errors import ModelProvenanceInvalid
from ..settings import ProvenanceSettings

MODEL_SHA256 = "model_sha256"
CODE_SHA256 = "code_sha256"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"  # script mode: where the serving code is


def record_provenance(model_data_url: str, sourcedir_uri: str, store: S3Store) -> dict[str, str]:
    """The lineage entries registration adds: the SHA-256 of the model and of the code."""
    recorded = {}
    for key, what, uri in ((MODEL_SHA256, "model data", model_data_url),
                           (CODE_SHA256, "code", sourcedir_uri)):  # fmt: skip
        digest = store.sha256(uri)
        if digest is None:
            raise ModelProvenanceInvalid(f"cannot record the {what}'s SHA-256: {uri} is missing")
        recorded[key] = digest
    return recorded


def provenance_problems(
    package: dict[str, Any], settings: ProvenanceSettings, store: S3Store
) -> list[str]:
    """Every way the package differs from what this stack registered; [] if none."""
    container = container_of(package)
    lineage = package.get("CustomerMetadataProperties") or {}
    problems = []
    image = container.get("Image")
    if image != settings.inference_image_uri:
        problems.append(f"image {image} is not the stack's image {settings.inference_image_uri}")
    for what, uri, prefix, recorded in (
        ("model data", container.get("ModelDataUrl"), "runs/", lineage.get(MODEL_SHA256)),
        ("code", (container.get("Environment") or {}).get(SUBMIT_DIRECTORY), "code/",
         lineage.get(CODE_SHA256)),
    ):  # fmt: skip
        where = f"s3://{settings.artifacts_bucket}/{prefix}"
        if not _under(uri, settings.artifacts_bucket, prefix):
            problems.append(f"{what} {uri or '(none)'} is not under {where}")
            continue
        assert uri is not None
        if not recorded:
            problems.append(f"{what} {uri} has no SHA-256 recorded at registration")
            continue
        actual = store.sha256(uri)
        if actual is None:
            problems.append(f"{what} {uri} is missing")
        elif actual != recorded:
            problems.append(
                f"{what} {uri} has SHA-256 {actual[:12]}..., not the {recorded[:12]}... "
                "recorded at registration"
            )
    return problems


def provenance_failure(package: dict[str, Any], problems: list[str]) -> str:
    """One line: the version, then every problem, the first one first."""
    return f"version {package.get('ModelPackageVersion')} fails provenance: " + "; ".join(problems)


def _under(uri: str | None, bucket: str, prefix: str) -> bool:
    if not uri:
        return False
    try:
        found_bucket, key = split_s3_uri(uri)
    except ValueError:
        return False
    return found_bucket == bucket and key.startswith(prefix) and len(key) > len(prefix)
