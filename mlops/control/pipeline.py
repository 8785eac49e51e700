"""The delivery pipeline as an operator sees it: the pipeline of a pipeline stack
(codepipeline.yaml's `PipelineName` output), where each stage stands (GetPipelineState), the
recent executions with their commits (ListPipelineExecutions), and the manual approval waiting,
if any, which PutApprovalResult answers ("PutApprovalResult", CodePipeline API reference)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.control.aws import AwsTarget
from mlops.control.errors import NotFound, Refused
from mlops.control.stack import describe_stack

DEFAULT_PIPELINE_STACK = "mlops-delivery"


@dataclass(frozen=True)
class Approval:
    stage: str
    action: str
    token: str
    execution_id: str | None
    summary: str | None  # the approval's CustomData: the commit and the staging figures
    since: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "execution_id": self.execution_id,
            "summary": self.summary,
            "since": self.since.isoformat() if self.since else None,
        }


class Pipeline:
    def __init__(self, aws: AwsTarget, name: str) -> None:
        self.aws, self.name = aws, name

    @classmethod
    def of_stack(cls, aws: AwsTarget, stack_name: str) -> Pipeline:
        stack = describe_stack(aws.client("cloudformation"), stack_name)
        name = stack.outputs.get("PipelineName")
        if not name:
            raise NotFound(f"stack {stack_name} has no PipelineName output: not a pipeline stack")
        return cls(aws, name)

    @property
    def client(self) -> Any:
        return self.aws.client("codepipeline")

    def stages(self) -> list[dict[str, Any]]:
        state = self.client.get_pipeline_state(name=self.name)
        stages = []
        for stage in state.get("stageStates", []):
            latest = stage.get("latestExecution") or {}
            stages.append(
                {
                    "stage": stage["stageName"],
                    "status": latest.get("status"),
                    "execution_id": latest.get("pipelineExecutionId"),
                    "actions": [_action(a) for a in stage.get("actionStates", [])],
                }
            )
        return stages

    def executions(self, limit: int = 5) -> list[dict[str, Any]]:
        summaries = self.client.list_pipeline_executions(pipelineName=self.name, maxResults=limit)
        found = []
        for summary in summaries.get("pipelineExecutionSummaries", [])[:limit]:
            revisions = summary.get("sourceRevisions") or [{}]
            started, updated = summary.get("startTime"), summary.get("lastUpdateTime")
            found.append(
                {
                    "execution_id": summary["pipelineExecutionId"],
                    "status": summary["status"],
                    "commit": revisions[0].get("revisionId"),
                    "message": _message(revisions[0].get("revisionSummary")),
                    "trigger": (summary.get("trigger") or {}).get("triggerType"),
                    "started": started.isoformat() if started else None,
                    "seconds": (updated - started).total_seconds() if started and updated else None,
                    "summary": summary.get("statusSummary"),
                }
            )
        return found

    def waiting_approval(self) -> Approval | None:
        state = self.client.get_pipeline_state(name=self.name)
        for stage in state.get("stageStates", []):
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution") or {}
                if latest.get("status") == "InProgress" and latest.get("token"):
                    return Approval(
                        stage["stageName"],
                        action["actionName"],
                        latest["token"],
                        (stage.get("latestExecution") or {}).get("pipelineExecutionId"),
                        latest.get("summary"),
                        latest.get("lastStatusChange"),
                    )
        return None

    def decide(self, approve: bool, reason: str) -> Approval:
        """Answer the waiting approval: Approved or Rejected with `reason` as its summary."""
        approval = self.waiting_approval()
        if approval is None:
            raise Refused(f"pipeline {self.name} has no approval waiting")
        self.client.put_approval_result(
            pipelineName=self.name,
            stageName=approval.stage,
            actionName=approval.action,
            token=approval.token,
            result={"status": "Approved" if approve else "Rejected", "summary": reason},
        )
        return approval


def _action(action: dict[str, Any]) -> dict[str, Any]:
    latest = action.get("latestExecution") or {}
    return {
        "action": action["actionName"],
        "status": latest.get("status"),
        "summary": latest.get("summary"),
        "error": (latest.get("errorDetails") or {}).get("message"),
        "waiting_for_approval": bool(latest.get("token")) and latest.get("status") == "InProgress",
    }


def _message(revision_summary: str | None) -> str | None:
    """A CodeStarSourceConnection revision summary is a JSON document with CommitMessage."""
    if not revision_summary:
        return None
    try:
        document = json.loads(revision_summary)
    except json.JSONDecodeError:
        return revision_summary.splitlines()[0]
    message = document.get("CommitMessage") if isinstance(document, dict) else None
    return str(message).splitlines()[0] if message else None
