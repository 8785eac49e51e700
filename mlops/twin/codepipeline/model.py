"""What one pipeline execution is made of, with the statuses the CodePipeline API documents
(botocore model: PipelineExecutionStatus, StageExecutionStatus, ActionExecutionStatus).

A `PipelineRun` keeps the pipeline structure it started with (its pipelineVersion); a
`StageRun` holds the latest attempt of each of its actions; every attempt of every action stays
in `PipelineRun.history` for ListActionExecutions.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops.twin.aws.timestamps import utcnow


@dataclass(frozen=True)
class SourceOverride:
    """The commit a source action fetches instead of its branch head (a push, or
    StartPipelineExecution's sourceRevisions), and the branch it came from."""

    commit: str
    branch: str | None = None


@dataclass
class ActionRun:
    pipeline_execution_id: str
    pipeline_version: int
    stage: str
    declaration: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    start_time: datetime = field(default_factory=utcnow)
    last_update: datetime = field(default_factory=utcnow)
    summary: str | None = None
    token: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    error: dict[str, str] | None = None  # ErrorDetails: code, message
    updated_by: str | None = None
    resolved_configuration: dict[str, str] = field(default_factory=dict)
    input_artifacts: list[dict[str, Any]] = field(default_factory=list)
    output_artifacts: list[dict[str, Any]] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)
    revision: dict[str, Any] | None = None  # a source action's ActionRevision

    @property
    def name(self) -> str:
        return str(self.declaration["name"])

    @property
    def action_type(self) -> dict[str, str]:
        return dict(self.declaration["actionTypeId"])

    def update(self, **fields: Any) -> None:
        for key, value in fields.items():
            setattr(self, key, value)
        self.last_update = utcnow()


@dataclass
class StageRun:
    name: str
    status: str = "InProgress"
    entered: datetime = field(default_factory=utcnow)
    actions: dict[str, ActionRun] = field(default_factory=dict)


@dataclass
class PipelineRun:
    pipeline_name: str
    pipeline_arn: str
    declaration: dict[str, Any]  # the structure this execution runs (pipelineVersion)
    trigger: dict[str, str]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"
    status_summary: str | None = None
    start_time: datetime = field(default_factory=utcnow)
    last_update: datetime = field(default_factory=utcnow)
    variables: dict[str, str] = field(default_factory=dict)  # #{variables.<name>}
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> ArtifactDetail
    artifact_commits: dict[str, str] = field(default_factory=dict)  # artifact -> revision id
    artifact_revisions: list[dict[str, Any]] = field(default_factory=list)
    source_revisions: list[dict[str, Any]] = field(default_factory=list)
    source_overrides: dict[str, SourceOverride] = field(default_factory=dict)
    stages: dict[str, StageRun] = field(default_factory=dict)
    history: list[ActionRun] = field(default_factory=list)
    stop_trigger: dict[str, str] | None = None
    stopping: bool = False
    superseded: bool = False
    waiting_for: str | None = None  # the stage whose lock this execution waits for
    attempt: int = 1
    abandon: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def version(self) -> int:
        return int(self.declaration.get("version", 1))

    @property
    def execution_mode(self) -> str:
        return str(self.declaration.get("executionMode") or "SUPERSEDED")

    def stage_index(self, name: str) -> int:
        names = [s["name"] for s in self.declaration["stages"]]
        return names.index(name)

    def touch(self) -> None:
        self.last_update = utcnow()
