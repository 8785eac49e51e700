"""Executions in the API's shapes (CodePipeline API reference: GetPipelineState,
GetPipelineExecution, ListPipelineExecutions, ListActionExecutions; field names and enums from
the botocore model's StageState, ActionState, PipelineExecution, PipelineExecutionSummary and
ActionExecutionDetail)."""

from __future__ import annotations

from typing import Any

from mlops.twin.aws.timestamps import epoch_seconds
from mlops.twin.codepipeline.executor import PipelineExecutor
from mlops.twin.codepipeline.model import ActionRun, PipelineRun


def pipeline_state(executor: PipelineExecutor, name: str) -> dict[str, Any]:
    declaration, _ = executor.declaration(name)
    stages = []
    with executor.lock:
        for stage in declaration["stages"]:
            latest = executor.latest_in_stage(name, stage["name"])
            stage_run = latest.stages[stage["name"]] if latest else None
            state: dict[str, Any] = {
                "stageName": stage["name"],
                "inboundTransitionState": {"enabled": True},
                "actionStates": [
                    _action_state(
                        a["name"], stage_run.actions.get(a["name"]) if stage_run else None
                    )
                    for a in stage["actions"]
                ],
            }
            if latest and stage_run:
                state["latestExecution"] = {
                    "pipelineExecutionId": latest.id,
                    "status": stage_run.status,
                    "type": "STANDARD",
                }
            waiting = [
                {"pipelineExecutionId": r.id, "status": "InProgress", "type": "STANDARD"}
                for r in executor.waiting(name, stage["name"])
            ]
            if waiting:
                state["inboundExecution"] = waiting[0]
                state["inboundExecutions"] = waiting
            stages.append(state)
    metadata = executor.metadata(name)
    return {
        "pipelineName": name,
        "pipelineVersion": declaration.get("version", 1),
        "stageStates": stages,
        "created": epoch_seconds(metadata["created"]),
        "updated": epoch_seconds(metadata["updated"]),
    }


def _action_state(name: str, action: ActionRun | None) -> dict[str, Any]:
    state: dict[str, Any] = {"actionName": name}
    if action is None:
        return state
    latest: dict[str, Any] = {
        "actionExecutionId": action.id,
        "status": action.status,
        "lastStatusChange": action.last_update,
    }
    for key, value in (
        ("summary", action.summary),
        ("token", action.token if action.status == "InProgress" else None),
        ("lastUpdatedBy", action.updated_by),
        ("externalExecutionId", action.external_execution_id),
        ("externalExecutionUrl", action.external_execution_url),
        ("errorDetails", action.error),
    ):
        if value is not None:
            latest[key] = value
    state["latestExecution"] = latest
    if action.revision:
        state["currentRevision"] = {
            "revisionId": action.revision["revisionId"],
            "revisionChangeId": action.revision.get("revisionChangeId", ""),
            "created": action.last_update,
        }
    return state


def execution(run: PipelineRun) -> dict[str, Any]:
    """GetPipelineExecution's pipelineExecution."""
    return {
        "pipelineName": run.pipeline_name,
        "pipelineVersion": run.version,
        "artifactRevisions": [_compact(r) for r in run.artifact_revisions],
        "variables": [{"name": k, "resolvedValue": v} for k, v in run.variables.items()],
    } | _common(run)


def summary(run: PipelineRun) -> dict[str, Any]:
    """ListPipelineExecutions' PipelineExecutionSummary."""
    found = {
        "startTime": run.start_time,
        "lastUpdateTime": run.last_update,
        "sourceRevisions": [_compact(r) for r in run.source_revisions],
    } | _common(run)
    if run.stop_trigger is not None:
        found["stopTrigger"] = dict(run.stop_trigger)
    return found


def _common(run: PipelineRun) -> dict[str, Any]:
    common: dict[str, Any] = {
        "pipelineExecutionId": run.id,
        "status": run.status,
        "trigger": dict(run.trigger),
        "executionMode": run.execution_mode,
        "executionType": "STANDARD",
    }
    if run.status_summary:
        common["statusSummary"] = run.status_summary
    return common


def action_execution(action: ActionRun, region: str) -> dict[str, Any]:
    result = {
        "externalExecutionId": action.external_execution_id,
        "externalExecutionSummary": action.summary,
        "externalExecutionUrl": action.external_execution_url,
        "errorDetails": action.error,
    }
    detail = {
        "pipelineExecutionId": action.pipeline_execution_id,
        "actionExecutionId": action.id,
        "pipelineVersion": action.pipeline_version,
        "stageName": action.stage,
        "actionName": action.name,
        "startTime": action.start_time,
        "lastUpdateTime": action.last_update,
        "status": action.status,
        "input": {
            "actionTypeId": action.action_type,
            "configuration": dict(action.declaration.get("configuration") or {}),
            "resolvedConfiguration": dict(action.resolved_configuration),
            "region": action.declaration.get("region") or region,
            "inputArtifacts": list(action.input_artifacts),
        },
        "output": {
            "outputArtifacts": list(action.output_artifacts),
            "executionResult": {k: v for k, v in result.items() if v is not None},
            "outputVariables": dict(action.output_variables),
        },
    }
    for key, value in (
        ("updatedBy", action.updated_by),
        ("roleArn", action.declaration.get("roleArn")),
        ("namespace", action.declaration.get("namespace")),
    ):
        if value is not None:
            (detail if key == "updatedBy" else detail["input"])[key] = value
    return detail


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
