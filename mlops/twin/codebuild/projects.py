"""CreateProject as the CodeBuild API reference documents it. moto 5.2.5 insists on a
`location` for every source and for CODEPIPELINE artifacts; the API reference says a source
"specified in the source action of a pipeline in CodePipeline" takes none (ProjectSource,
location), NO_SOURCE has none, and for CODEPIPELINE artifacts "CodePipeline ignores this value"
(ProjectArtifacts, location). This seam relaxes exactly those two checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moto.codebuild import responses
from moto.codebuild.exceptions import InvalidInputException

from mlops.twin.seam import Patch, PatchSeam

SOURCE_TYPES = ("BITBUCKET", "CODECOMMIT", "CODEPIPELINE", "GITHUB", "GITHUB_ENTERPRISE", "S3")
_NO_LOCATION = ("CODEPIPELINE", "NO_SOURCE")


def validate_source(source: dict[str, Any]) -> None:
    if source["type"] not in (*SOURCE_TYPES, "NO_SOURCE"):
        raise InvalidInputException("Invalid type provided: Project source type")
    if source["type"] not in _NO_LOCATION and not source.get("location"):
        raise InvalidInputException("Project source location is required")


def validate_artifacts(artifacts: dict[str, Any]) -> None:
    if artifacts["type"] not in ("CODEPIPELINE", "S3", "NO_ARTIFACTS"):
        raise InvalidInputException("Invalid type provided: Artifact type")
    if artifacts["type"] == "NO_ARTIFACTS" and "location" in artifacts:
        raise InvalidInputException(
            "Invalid artifacts: artifact type NO_ARTIFACTS should have null location"
        )
    if artifacts["type"] == "S3" and not artifacts.get("location"):
        raise InvalidInputException("Project artifacts location is required")


class CodeBuildProjectsSeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        return (
            Patch(responses, "_validate_required_params_source", validate_source),
            Patch(responses, "_validate_required_params_artifacts", validate_artifacts),
        )
