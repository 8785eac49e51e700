"""Action providers: what runs an action of a given type (actionTypeId category, owner,
provider). The executor hands each action an `ActionContext` (resolved configuration, input
and output artifact locations, a way to show progress, the abandon signal) and records the
`ActionResult` it returns.

Providers are registered by (category, provider), e.g. ("Build", "CodeBuild"); an action whose
type has none fails with a summary saying so: the twin runs nothing it only pretends to run.
A provider must return promptly once `context.abandoned` is set (StopPipelineExecution with
abandon, or the twin stopping).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops.twin.codepipeline.model import SourceOverride


@dataclass(frozen=True)
class ActionContext:
    pipeline_name: str
    pipeline_version: int
    execution_id: str
    stage: str
    action: str
    action_type: dict[str, str]
    configuration: dict[str, str]  # variables resolved
    input_artifacts: list[dict[str, Any]]  # ArtifactDetail: name, s3location{bucket, key}
    output_artifacts: list[dict[str, Any]]  # where this action writes its outputs
    input_revisions: dict[str, str]  # input artifact name -> source revision id (commit)
    region: str
    account: str
    role_arn: str | None
    trigger: dict[str, str]
    source_override: SourceOverride | None
    abandoned: threading.Event
    client: Callable[[str], Any]
    progress: Callable[..., None]  # progress(token=..., external_execution_id=..., ...)
    action_execution_id: str = ""  # ListActionExecutions' actionExecutionId


@dataclass
class ActionResult:
    status: str  # Succeeded | Failed | Abandoned
    summary: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    revision: dict[str, Any] | None = None  # source actions: revisionId, revisionSummary, ...
    updated_by: str | None = None

    @classmethod
    def failed(cls, message: str, code: str = "JobFailed", **fields: Any) -> ActionResult:
        fields.setdefault("summary", message)
        return cls("Failed", error_code=code, error_message=message, **fields)

    @classmethod
    def abandoned(cls, **fields: Any) -> ActionResult:
        return cls("Abandoned", **fields)


class ActionProvider(Protocol):
    def run(self, context: ActionContext) -> ActionResult: ...


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[tuple[str, str], ActionProvider] = {}

    def register(self, category: str, provider: str, implementation: ActionProvider) -> None:
        self._providers[(category, provider)] = implementation

    def find(self, action_type: dict[str, str]) -> ActionProvider | None:
        return self._providers.get((action_type["category"], action_type["provider"]))

    def missing(self, action_type: dict[str, str]) -> ActionResult:
        kind = "/".join(action_type.get(k, "?") for k in ("owner", "category", "provider"))
        return ActionResult.failed(
            f"The twin has no action provider for {kind} (version {action_type.get('version')})",
            code="ActionTypeNotSupported",
        )
