"""One build: what StartBuild asked for, and the record BatchGetBuilds answers with (CodeBuild
API reference, "Build", "BuildPhase"; phase types and build statuses from the botocore model's
BuildPhaseType and StatusType)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.twin.aws.timestamps import utcnow
from mlops.twin.codebuild.logs import BuildLog

IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"  # what the twin's image stands for
TERMINAL = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")


@dataclass(frozen=True)
class SourceInput:
    """A zipped source in S3 (a CodePipeline input artifact or an S3 source), unpacked into
    CODEBUILD_SRC_DIR (the first) or CODEBUILD_SRC_DIR_<name> (the others)."""

    name: str
    bucket: str
    key: str


@dataclass(frozen=True)
class ArtifactOutput:
    """Where an output artifact goes: the primary (buildspec `artifacts`) first, then one per
    `secondary-artifacts` identifier, by name."""

    name: str
    bucket: str
    key: str


@dataclass(frozen=True)
class BuildRequest:
    project: str
    source_type: str = "NO_SOURCE"  # CODEPIPELINE | S3 | NO_SOURCE
    sources: tuple[SourceInput, ...] = ()
    artifacts: tuple[ArtifactOutput, ...] = ()
    environment_overrides: tuple[dict[str, str], ...] = ()
    buildspec_override: str | None = None
    source_version: str | None = None
    resolved_source_version: str | None = None
    initiator: str = "twin"
    timeout_minutes: int | None = None


@dataclass
class Build:
    id: str
    arn: str
    number: int
    request: BuildRequest
    project: dict[str, Any]  # the project as BatchGetProjects shows it
    workdir: Path
    log: BuildLog
    timeout_minutes: int
    start_time: datetime = field(default_factory=utcnow)
    end_time: datetime | None = None
    status: str = "IN_PROGRESS"
    current_phase: str = "SUBMITTED"
    phases: list[dict[str, Any]] = field(default_factory=list)
    exported: list[dict[str, str]] = field(default_factory=list)
    resolved_source_version: str | None = None
    artifact_location: str | None = None
    stop_reason: str | None = None  # STOPPED | TIMED_OUT
    done: threading.Event = field(default_factory=threading.Event)

    # -- phases --------------------------------------------------------------------------------
    def enter(self, phase_type: str) -> None:
        self.current_phase = phase_type
        self.phases.append({"phaseType": phase_type, "startTime": utcnow()})

    def close_phase(self, status: str, code: str | None = None, message: str = "") -> None:
        phase = self.phases[-1]
        end = utcnow()
        phase.update(
            phaseStatus=status,
            endTime=end,
            durationInSeconds=int((end - phase["startTime"]).total_seconds()),
        )
        if code:
            phase["contexts"] = [{"statusCode": code, "message": message}]

    def phase_status(self, phase_type: str) -> str | None:
        statuses = [p.get("phaseStatus") for p in self.phases if p["phaseType"] == phase_type]
        return statuses[-1] if statuses else None

    @property
    def succeeding(self) -> bool:
        return all(p.get("phaseStatus") in (None, "SUCCEEDED") for p in self.phases)

    def first_failure(self) -> dict[str, Any] | None:
        """The first phase that did not succeed, for summaries ('Phase: BUILD, Code: ...')."""
        for phase in self.phases:
            if phase.get("phaseStatus") not in (None, "SUCCEEDED"):
                return phase
        return None

    # -- API -----------------------------------------------------------------------------------
    def to_api(self) -> dict[str, Any]:
        source = {"type": self.request.source_type}
        spec = self.request.buildspec_override or self.project.get("source", {}).get("buildspec")
        if spec:
            source["buildspec"] = spec
        build: dict[str, Any] = {
            "id": self.id,
            "arn": self.arn,
            "buildNumber": self.number,
            "startTime": self.start_time,
            "currentPhase": self.current_phase,
            "buildStatus": self.status,
            "projectName": self.request.project,
            "phases": [dict(p) for p in self.phases],
            "source": source,
            "secondarySources": [],
            "secondarySourceVersions": [],
            "artifacts": {"location": self.artifact_location or ""},
            "environment": self.project.get("environment", {}),
            "serviceRole": self.project.get("serviceRole", ""),
            "logs": {
                "groupName": self.log.group,
                "streamName": self.log.stream,
                "cloudWatchLogs": {"status": "ENABLED"},
            },
            "timeoutInMinutes": self.timeout_minutes,
            "queuedTimeoutInMinutes": self.project.get("queuedTimeoutInMinutes") or 480,
            "buildComplete": self.status in TERMINAL,
            "initiator": self.request.initiator,
            "exportedEnvironmentVariables": list(self.exported),
        }
        for key, value in (
            ("endTime", self.end_time),
            ("sourceVersion", self.request.source_version),
            ("resolvedSourceVersion", self.resolved_source_version),
        ):
            if value is not None:
                build[key] = value
        return build
