"""The build operations on the wire (CodeBuild API reference: StartBuild, BatchGetBuilds,
StopBuild, ListBuilds, ListBuildsForProject), served by the runner; moto keeps the projects."""

from __future__ import annotations

from typing import Any

from mlops.twin.aws.responses import AwsError
from mlops.twin.aws.s3_uri import split_s3_location
from mlops.twin.codebuild.build import BuildRequest, SourceInput
from mlops.twin.codebuild.runner import BuildRunner
from mlops.twin.gateway import Gateway, json_operation

_TARGET = "CodeBuild_20161006."


def connect(gateway: Gateway, runner: BuildRunner) -> None:
    def start_build(request: dict[str, Any]) -> dict[str, Any]:
        project = runner.project(request["projectName"])
        source = project.get("source", {})
        source_type = request.get("sourceTypeOverride") or source.get("type", "NO_SOURCE")
        sources: tuple[SourceInput, ...] = ()
        if source_type == "S3":
            location = request.get("sourceLocationOverride") or source.get("location", "")
            bucket, key = split_s3_location(location if "://" in location else f"s3://{location}")
            sources = (SourceInput("", bucket, key),)
        elif source_type != "NO_SOURCE":
            raise AwsError(
                f"The twin starts {source_type} builds only from CodePipeline; use S3 or NO_SOURCE",
                "InvalidInputException",
            )
        build = runner.start(
            BuildRequest(
                project=project["name"],
                source_type=source_type,
                sources=sources,
                environment_overrides=tuple(request.get("environmentVariablesOverride") or ()),
                buildspec_override=request.get("buildspecOverride"),
                source_version=request.get("sourceVersion"),
                initiator="twin-user",
                timeout_minutes=request.get("timeoutInMinutesOverride"),
            )
        )
        return {"build": build.to_api()}

    def batch_get_builds(request: dict[str, Any]) -> dict[str, Any]:
        ids = request.get("ids") or []
        found = {i: runner.get(i) for i in ids}
        return {
            "builds": [b.to_api() for b in found.values() if b is not None],
            "buildsNotFound": [i for i, b in found.items() if b is None],
        }

    def stop_build(request: dict[str, Any]) -> dict[str, Any]:
        return {"build": runner.stop(request["id"]).to_api()}

    def list_builds(request: dict[str, Any]) -> dict[str, Any]:
        builds = runner.builds(request.get("projectName"))
        if request.get("sortOrder") == "ASCENDING":
            builds.reverse()
        return {"ids": [b.id for b in builds]}

    for operation, call in (
        ("StartBuild", start_build),
        ("BatchGetBuilds", batch_get_builds),
        ("StopBuild", stop_build),
        ("ListBuilds", list_builds),
        ("ListBuildsForProject", list_builds),
    ):
        gateway.route_target(_TARGET + operation, json_operation(call))
