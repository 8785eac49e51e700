"""The state-change events CodePipeline sends to the default bus (CodePipeline user guide,
"Monitoring CodePipeline events"): source `aws.codepipeline`, resources = [pipeline ARN],
detail-types "CodePipeline Pipeline Execution State Change", "CodePipeline Stage Execution
State Change", "CodePipeline Action Execution State Change"; states STARTED, SUCCEEDED,
FAILED, RESUMED, CANCELED, SUPERSEDED, STOPPING, STOPPED (pipeline), ABANDONED (action).
An action's result is under `execution-result` as `external-execution-id`,
`external-execution-summary`, `external-execution-url` and, on failure, `error-code`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.twin.aws.timestamps import iso_millis
from mlops.twin.codepipeline.model import ActionRun, PipelineRun

PIPELINE = "CodePipeline Pipeline Execution State Change"
STAGE = "CodePipeline Stage Execution State Change"
ACTION = "CodePipeline Action Execution State Change"

Emit = Callable[[str, dict[str, Any], list[str]], None]  # (detail-type, detail, resources)


def pipeline_detail(run: PipelineRun, state: str) -> dict[str, Any]:
    return {
        "pipeline": run.pipeline_name,
        "execution-id": run.id,
        "start-time": iso_millis(run.start_time),
        "execution-trigger": {
            "trigger-type": run.trigger.get("triggerType", ""),
            "trigger-detail": run.trigger.get("triggerDetail", ""),
        },
        "state": state,
        "version": float(run.version),
        "pipeline-execution-attempt": float(run.attempt),
    }


def stage_detail(run: PipelineRun, stage: str, state: str) -> dict[str, Any]:
    detail = pipeline_detail(run, state)
    detail.pop("execution-trigger")
    return detail | {"stage": stage}


def action_detail(run: PipelineRun, action: ActionRun, state: str) -> dict[str, Any]:
    detail = stage_detail(run, action.stage, state) | {
        "action": action.name,
        "region": action.declaration.get("region") or "",
        "type": dict(action.action_type),
        "input-artifacts": action.input_artifacts,
    }
    if state in ("SUCCEEDED", "FAILED", "ABANDONED"):
        result = {
            "external-execution-id": action.external_execution_id,
            "external-execution-summary": action.summary,
            "external-execution-url": action.external_execution_url,
        }
        if action.error:
            result["error-code"] = action.error.get("code")
        detail["execution-result"] = {k: v for k, v in result.items() if v is not None}
        if action.output_artifacts:
            detail["output-artifacts"] = action.output_artifacts
    return detail
