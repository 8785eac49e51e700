"""Manual approval actions ("Manage approval actions in CodePipeline", CodePipeline user
guide): the execution stops at the action, which gets a token (GetPipelineState shows it) and,
with NotificationArn, publishes the documented JSON to that SNS topic:
  {"region", "consoleLink", "approval": {"pipelineName", "stageName", "actionName", "token",
   "expires", "externalEntityLink", "approvalReviewLink", "customData"}}
PutApprovalResult answers it: Approved succeeds the action, Rejected fails it ("If an approver
rejects the action ... the pipeline status becomes Failed"). Answering a token twice is
ApprovalAlreadyCompletedException; an unknown token is InvalidApprovalTokenException."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mlops.twin.aws.responses import AwsError
from mlops.twin.aws.timestamps import utcnow
from mlops.twin.codepipeline.providers import ActionContext, ActionResult

EXPIRY = timedelta(days=7)
_POLL_S = 0.2


@dataclass
class _Pending:
    pipeline: str
    stage: str
    action: str
    token: str
    answered: threading.Event = field(default_factory=threading.Event)
    result: dict[str, str] | None = None
    answered_by: str | None = None


class Approvals:
    """The open approval requests of the cloud, by token, and the provider that opens them."""

    def __init__(self, reviewer: str) -> None:
        self._reviewer = reviewer  # lastUpdatedBy of an answer (the twin has one identity)
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}

    def answer(self, pipeline: str, stage: str, action: str, token: str, result: dict[str, str]):
        with self._lock:
            pending = self._pending.get(token)
            if pending is None or (pending.pipeline, pending.stage, pending.action) != (
                pipeline,
                stage,
                action,
            ):
                raise AwsError(
                    f"The approval token {token} is not valid for {pipeline}/{stage}/{action}",
                    "InvalidApprovalTokenException",
                )
            if pending.answered.is_set():
                raise AwsError(
                    "The approval action has already been completed",
                    "ApprovalAlreadyCompletedException",
                )
            if result.get("status") not in ("Approved", "Rejected"):
                raise AwsError("result.status must be Approved or Rejected")
            pending.result, pending.answered_by = dict(result), self._reviewer
            pending.answered.set()
        return utcnow()

    def run(self, context: ActionContext) -> ActionResult:
        token = str(uuid.uuid4())
        pending = _Pending(context.pipeline_name, context.stage, context.action, token)
        with self._lock:
            self._pending[token] = pending
        context.progress(token=token, summary=context.configuration.get("CustomData"))
        if context.configuration.get("NotificationArn"):
            self._notify(context, token)
        while not pending.answered.wait(_POLL_S):
            if context.abandoned.is_set():
                with self._lock:
                    pending.answered.set()  # a late answer is ApprovalAlreadyCompleted
                return ActionResult.abandoned(summary="The approval was abandoned")
        result = pending.result or {}
        summary = result.get("summary") or None
        if result.get("status") == "Approved":
            return ActionResult("Succeeded", summary=summary, updated_by=pending.answered_by)
        return ActionResult.failed(
            f"Rejected by {pending.answered_by}" + (f": {summary}" if summary else ""),
            code="JobFailed",
            summary=summary,
            updated_by=pending.answered_by,
        )

    def _notify(self, context: ActionContext, token: str) -> None:
        console = (
            f"https://console.aws.amazon.com/codepipeline/home?region={context.region}"
            f"#/view/{context.pipeline_name}"
        )
        expires = (utcnow() + EXPIRY).strftime("%Y-%m-%dT%H:%MZ")
        message: dict[str, Any] = {
            "region": context.region,
            "consoleLink": console,
            "approval": {
                "pipelineName": context.pipeline_name,
                "stageName": context.stage,
                "actionName": context.action,
                "token": token,
                "expires": expires,
                "externalEntityLink": context.configuration.get("ExternalEntityLink"),
                "approvalReviewLink": (
                    f"{console}/{context.stage}/{context.action}/approve/{token}"
                ),
                "customData": context.configuration.get("CustomData"),
            },
        }
        context.client("sns").publish(
            TopicArn=context.configuration["NotificationArn"],
            Subject=f"APPROVAL NEEDED: AWS CodePipeline {context.pipeline_name} for action "
            f"{context.action}"[:100],
            Message=json.dumps(message),
        )
