"""The execution operations on the wire, served by the executor (moto keeps CreatePipeline,
GetPipeline, UpdatePipeline, ListPipelines and DeletePipeline): StartPipelineExecution,
GetPipelineExecution, ListPipelineExecutions, GetPipelineState, ListActionExecutions,
PutApprovalResult, StopPipelineExecution, RetryStageExecution. Creating a pipeline starts an
execution, as CodePipeline does ("Start a pipeline in CodePipeline": the CreatePipeline
trigger type)."""

from __future__ import annotations

import threading
from typing import Any

from mlops.twin.aws.responses import AwsError
from mlops.twin.codepipeline import views
from mlops.twin.codepipeline.approval import Approvals
from mlops.twin.codepipeline.executor import PipelineExecutor, not_found
from mlops.twin.codepipeline.model import SourceOverride
from mlops.twin.gateway import Gateway, json_operation

_TARGET = "CodePipeline_20150709."
_PAGE = 100


def connect(
    gateway: Gateway, executor: PipelineExecutor, approvals: Approvals, caller: str
) -> None:
    tokens: dict[tuple[str, str], str] = {}
    tokens_lock = threading.Lock()

    def start(request: dict[str, Any]) -> dict[str, Any]:
        name, token = request["name"], request.get("clientRequestToken")
        overrides = {}
        for revision in request.get("sourceRevisions") or []:
            if revision.get("revisionType") != "COMMIT_ID":
                raise AwsError("The twin's source actions take revisionType COMMIT_ID only")
            overrides[revision["actionName"]] = SourceOverride(revision["revisionValue"])
        with tokens_lock:
            if token and (name, token) in tokens:
                return {"pipelineExecutionId": tokens[(name, token)]}
            run = executor.start(
                name,
                {"triggerType": "StartPipelineExecution", "triggerDetail": caller},
                variables=request.get("variables"),
                source_overrides=overrides,
            )
            if token:
                tokens[(name, token)] = run.id
        return {"pipelineExecutionId": run.id}

    def get_execution(request: dict[str, Any]) -> dict[str, Any]:
        run = executor.run(request["pipelineName"], request["pipelineExecutionId"])
        with executor.lock:
            return {"pipelineExecution": views.execution(run)}

    def list_executions(request: dict[str, Any]) -> dict[str, Any]:
        runs = executor.runs(request["pipelineName"])
        executor.declaration(request["pipelineName"])
        stage = ((request.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        if stage:
            runs = [
                r for r in runs if r.stages.get(stage) and r.stages[stage].status == "Succeeded"
            ]
        return _page(request, [views.summary(r) for r in runs], "pipelineExecutionSummaries")

    def state(request: dict[str, Any]) -> dict[str, Any]:
        return views.pipeline_state(executor, request["name"])

    def list_actions(request: dict[str, Any]) -> dict[str, Any]:
        name = request["pipelineName"]
        wanted = (request.get("filter") or {}).get("pipelineExecutionId")
        runs = [executor.run(name, wanted)] if wanted else executor.runs(name)
        with executor.lock:
            details = [views.action_execution(a, executor.region) for r in runs for a in r.history]
        details.sort(key=lambda d: d["startTime"], reverse=True)
        return _page(request, details, "actionExecutionDetails")

    def approve(request: dict[str, Any]) -> dict[str, Any]:
        name, stage, action = request["pipelineName"], request["stageName"], request["actionName"]
        declaration, _ = executor.declaration(name)
        stages = {s["name"]: s for s in declaration["stages"]}
        if stage not in stages:
            raise not_found("Stage", f"Stage {stage} does not exist in pipeline {name}")
        if action not in [a["name"] for a in stages[stage]["actions"]]:
            raise not_found("Action", f"Action {action} does not exist in stage {stage}")
        approved_at = approvals.answer(name, stage, action, request["token"], request["result"])
        return {"approvedAt": approved_at}

    def stop(request: dict[str, Any]) -> dict[str, Any]:
        run = executor.stop(
            request["pipelineName"],
            request["pipelineExecutionId"],
            bool(request.get("abandon")),
            request.get("reason"),
        )
        return {"pipelineExecutionId": run.id}

    def retry(request: dict[str, Any]) -> dict[str, Any]:
        run = executor.retry(
            request["pipelineName"],
            request["stageName"],
            request["pipelineExecutionId"],
            request["retryMode"],
        )
        return {"pipelineExecutionId": run.id}

    for operation, call in (
        ("StartPipelineExecution", start),
        ("GetPipelineExecution", get_execution),
        ("ListPipelineExecutions", list_executions),
        ("GetPipelineState", state),
        ("ListActionExecutions", list_actions),
        ("PutApprovalResult", approve),
        ("StopPipelineExecution", stop),
        ("RetryStageExecution", retry),
    ):
        gateway.route_target(_TARGET + operation, json_operation(call))

    def created(request: dict[str, Any], _response: dict[str, Any]) -> None:
        executor.start(
            request["pipeline"]["name"], {"triggerType": "CreatePipeline", "triggerDetail": caller}
        )

    gateway.after_target(_TARGET + "CreatePipeline", created)


def _page(request: dict[str, Any], items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    size = int(request.get("maxResults") or _PAGE)
    try:
        start = int(request.get("nextToken") or 0)
    except ValueError:
        raise AwsError("The next token is not valid", "InvalidNextTokenException") from None
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page
