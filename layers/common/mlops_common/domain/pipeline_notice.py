"""Readable notifications of the delivery pipeline's state changes.

CodePipeline sends `aws.codepipeline` events to the default bus ("Monitoring CodePipeline
events", CodePipeline user guide): pipeline, stage and action execution state changes. The
events name the execution, not the commit, and a pipeline failure does not say which action
failed; this module asks the API for both (GetPipelineExecution's artifactRevisions,
ListActionExecutions' executionResult) and writes one message a person can read:

- every pipeline state (STARTED, SUCCEEDED, FAILED, STOPPED, SUPERSEDED, ...) names the commit;
- a failure (pipeline, stage or action) names the failed action and its summary, in one line;
- an approval action that starts says what is waiting and carries its CustomData (the
  staging figures).
Other stage and action events are not notified.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field

from ..models import FunctionInput, Payload

PIPELINE = "CodePipeline Pipeline Execution State Change"
STAGE = "CodePipeline Stage Execution State Change"
ACTION = "CodePipeline Action Execution State Change"


class PipelineChangeDetail(Payload):
    pipeline: str
    execution_id: Annotated[str, Field(alias="execution-id")]
    state: str
    stage: str | None = None
    action: str | None = None
    type: dict[str, str] | None = None
    execution_result: Annotated[dict[str, Any] | None, Field(alias="execution-result")] = None


class PipelineChangeEvent(FunctionInput):
    """An `aws.codepipeline` state-change event as EventBridge delivers it."""

    detail_type: Annotated[
        Literal[
            "CodePipeline Pipeline Execution State Change",
            "CodePipeline Stage Execution State Change",
            "CodePipeline Action Execution State Change",
        ],
        Field(alias="detail-type"),
    ]
    source: Literal["aws.codepipeline"]
    region: str
    detail: PipelineChangeDetail

    @property
    def correlation_id(self) -> str:
        return self.detail.execution_id


class PipelineNotice(Payload):
    published: bool
    subject: str | None = None
    message: dict[str, Any] | None = None
    message_id: str | None = None


class PipelineReader(Protocol):
    def execution(self, pipeline: str, execution_id: str) -> dict[str, Any]: ...

    def action_executions(self, pipeline: str, execution_id: str) -> list[dict[str, Any]]: ...


class Publisher(Protocol):
    def publish(self, subject: str, message: dict[str, Any], attributes: dict[str, str]) -> str: ...


def notify_pipeline_change(
    event: PipelineChangeEvent, pipelines: PipelineReader, notifier: Publisher
) -> PipelineNotice:
    if not notified(event):
        return PipelineNotice(published=False)
    detail = event.detail
    execution = pipelines.execution(detail.pipeline, detail.execution_id)
    actions = pipelines.action_executions(detail.pipeline, detail.execution_id)
    subject, message = compose(event, execution, actions)
    message_id = notifier.publish(
        subject, message, {"pipeline": detail.pipeline, "state": detail.state}
    )
    return PipelineNotice(published=True, subject=subject, message=message, message_id=message_id)


def notified(event: PipelineChangeEvent) -> bool:
    detail = event.detail
    if event.detail_type == PIPELINE:
        return True
    if detail.state == "FAILED":
        return True
    category = (detail.type or {}).get("category")
    return event.detail_type == ACTION and detail.state == "STARTED" and category == "Approval"


def compose(
    event: PipelineChangeEvent, execution: dict[str, Any], actions: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """(subject, message) of a notified event, from the execution and its action executions."""
    detail = event.detail
    commit = commit_of(execution)
    short = f"commit {commit['id'][:7]}" if commit else "no commit yet"
    message: dict[str, Any] = {
        "pipeline": detail.pipeline,
        "execution_id": detail.execution_id,
        "state": detail.state,
        "commit": commit,
        "console": (
            f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{detail.pipeline}"
            f"/executions/{detail.execution_id}/timeline?region={event.region}"
        ),
    }
    if detail.state == "FAILED":
        failed = failed_action(detail, actions)
        message["failed_action"] = failed
        where = f"{failed['stage']}/{failed['action']}" if failed else "an unknown action"
        problem = (failed or {}).get("error") or (failed or {}).get("summary") or "no summary"
        summary = f"{detail.pipeline} FAILED at {where} ({short}): {problem}"
        subject = f"{detail.pipeline}: FAILED at {where} ({short})"
    elif event.detail_type == ACTION:  # an approval is waiting
        approval = waiting_approval(detail, actions)
        message["approval"] = approval
        where = f"{detail.stage}/{detail.action}"
        summary = f"{detail.pipeline} waits for approval at {where} ({short})"
        if approval.get("custom_data"):
            summary += f": {approval['custom_data']}"
        subject = f"{detail.pipeline}: approval needed at {where} ({short})"
    else:
        summary = f"{detail.pipeline} {detail.state} ({short})"
        if commit and commit.get("message"):
            summary += f": {first_line(commit['message'])}"
        subject = f"{detail.pipeline}: {detail.state} ({short})"
    message = {"summary": first_line(summary)} | message
    if event.detail_type == STAGE:
        message["stage"] = detail.stage
    if event.detail_type == ACTION:
        message |= {"stage": detail.stage, "action": detail.action}
    return subject[:100], message


def commit_of(execution: dict[str, Any]) -> dict[str, Any] | None:
    """The commit the execution delivers: its first artifact revision. A connection source's
    revisionSummary is JSON ({"ProviderType": ..., "CommitMessage": ...})."""
    revisions = execution.get("artifactRevisions") or []
    if not revisions:
        return None
    revision = revisions[0]
    text = revision.get("revisionSummary") or ""
    try:
        parsed = json.loads(text)
        text = parsed.get("CommitMessage", text) if isinstance(parsed, dict) else text
    except json.JSONDecodeError:
        pass
    return {"id": revision["revisionId"], "message": text, "url": revision.get("revisionUrl")}


def failed_action(
    detail: PipelineChangeDetail, actions: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The failed action the event is about (its own action, or the newest failed action of
    its stage or execution), with its summary and the first line of its error."""
    candidates = [a for a in actions if a.get("status") == "Failed"]
    if detail.stage:
        candidates = [a for a in candidates if a.get("stageName") == detail.stage]
    if detail.action:
        candidates = [a for a in candidates if a.get("actionName") == detail.action]
    if not candidates:
        result = detail.execution_result or {}
        if not detail.action:
            return None
        return {
            "stage": detail.stage,
            "action": detail.action,
            "summary": result.get("external-execution-summary"),
            "error": None,
            "url": result.get("external-execution-url"),
        }
    newest = max(candidates, key=lambda a: a.get("lastUpdateTime") or a.get("startTime") or 0)
    result = (newest.get("output") or {}).get("executionResult") or {}
    error = (result.get("errorDetails") or {}).get("message")
    return {
        "stage": newest.get("stageName"),
        "action": newest.get("actionName"),
        "summary": result.get("externalExecutionSummary"),
        "error": first_line(error) if error else None,
        "url": result.get("externalExecutionUrl"),
    }


def waiting_approval(detail: PipelineChangeDetail, actions: list[dict[str, Any]]) -> dict[str, Any]:
    for action in actions:
        if (action.get("stageName"), action.get("actionName")) == (detail.stage, detail.action):
            configuration = (action.get("input") or {}).get("resolvedConfiguration") or {}
            return {
                "custom_data": configuration.get("CustomData"),
                "link": configuration.get("ExternalEntityLink"),
            }
    return {"custom_data": None, "link": None}


def first_line(text: str) -> str:
    """The first non-empty line: a notification says the first problem in one line."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
