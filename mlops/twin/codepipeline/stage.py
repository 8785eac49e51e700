"""One stage of one execution ("Pipeline structure reference", CodePipeline user guide):
actions run in ascending `runOrder`; actions with the same runOrder run in parallel; the stage
fails when an action fails, after the actions running beside it have finished, and no later
runOrder starts. A retried stage runs again either its failed actions only (FAILED_ACTIONS,
the succeeded ones keep their results) or all of them (ALL_ACTIONS)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from itertools import groupby
from typing import Any

from mlops.twin.codepipeline import artifacts, events
from mlops.twin.codepipeline.model import ActionRun, PipelineRun, StageRun
from mlops.twin.codepipeline.providers import ActionContext, ActionResult, ProviderRegistry
from mlops.twin.codepipeline.variables import UnresolvedVariable, resolve_configuration

log = logging.getLogger(__name__)
_ACTION_STATE = {"Succeeded": "SUCCEEDED", "Failed": "FAILED", "Abandoned": "ABANDONED"}


class StageRunner:
    def __init__(
        self,
        providers: ProviderRegistry,
        emit: Callable[[str, PipelineRun, dict[str, Any]], None],
        client: Callable[[str], Any],
        account: str,
        region: str,
        lock: threading.RLock,
    ) -> None:
        self.providers, self.emit, self.client = providers, emit, client
        self.account, self.region, self._lock = account, region, lock

    def run(self, run: PipelineRun, stage: dict[str, Any], retry_mode: str | None) -> str:
        """Run the stage; its final status (Succeeded, Failed or Stopped)."""
        name = stage["name"]
        with self._lock:
            previous = run.stages.get(name)
            stage_run = StageRun(name)
            if retry_mode and previous is not None:
                stage_run.actions = dict(previous.actions)
            run.stages[name] = stage_run
            run.touch()
        self.emit(
            events.STAGE,
            run,
            events.stage_detail(run, name, "RESUMED" if retry_mode else "STARTED"),
        )
        ordered = sorted(stage["actions"], key=lambda a: int(a.get("runOrder", 1)))
        status = "Succeeded"
        for _, group in groupby(ordered, key=lambda a: int(a.get("runOrder", 1))):
            declarations = [
                a
                for a in group
                if retry_mode != "FAILED_ACTIONS"
                or stage_run.actions.get(a["name"]) is None
                or stage_run.actions[a["name"]].status != "Succeeded"
            ]
            if run.stopping:
                status = "Stopped"
                break
            outcomes = self._run_group(run, stage_run, declarations)
            if run.stopping:
                status = "Stopped"
                break
            if any(o != "Succeeded" for o in outcomes):
                status = "Failed"
                break
        with self._lock:
            stage_run.status = status
            run.touch()
        self.emit(events.STAGE, run, events.stage_detail(run, name, status.upper()))
        return status

    def _run_group(
        self, run: PipelineRun, stage_run: StageRun, declarations: list[dict[str, Any]]
    ) -> list[str]:
        if len(declarations) <= 1:
            return [self._run_action(run, stage_run, d) for d in declarations]
        outcomes: list[str] = [""] * len(declarations)

        def work(index: int, declaration: dict[str, Any]) -> None:
            outcomes[index] = self._run_action(run, stage_run, declaration)

        threads = [
            threading.Thread(
                target=work, args=(i, d), name=f"twin-pipeline-action-{d['name']}", daemon=True
            )
            for i, d in enumerate(declarations)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    def _run_action(
        self, run: PipelineRun, stage_run: StageRun, declaration: dict[str, Any]
    ) -> str:
        declaration = copy.deepcopy(declaration)
        declaration.setdefault("region", self.region)
        action = ActionRun(run.id, run.version, stage_run.name, declaration)
        with self._lock:
            stage_run.actions[action.name] = action
            run.history.append(action)
        try:
            result = self._execute(run, action)
        except Exception as error:  # noqa: BLE001 - a twin bug must still end the action
            log.exception("action %s of %s crashed", action.name, run.id)
            result = ActionResult.failed(f"InternalError: the twin failed to run it: {error}")
        self._record(run, action, result)
        self.emit(
            events.ACTION, run, events.action_detail(run, action, _ACTION_STATE[result.status])
        )
        return result.status

    def _execute(self, run: PipelineRun, action: ActionRun) -> ActionResult:
        declaration = action.declaration
        inputs = []
        for artifact in declaration.get("inputArtifacts") or []:
            if artifact["name"] not in run.artifacts:
                return ActionResult.failed(
                    f"Input artifact {artifact['name']} was not produced by an earlier action"
                )
            inputs.append(copy.deepcopy(run.artifacts[artifact["name"]]))
        try:
            configuration = resolve_configuration(
                declaration.get("configuration") or {},
                run.namespaces | {"variables": run.variables, "codepipeline": _builtin(run)},
            )
            outputs = [
                artifacts.allocate(run.declaration, self.region, a["name"])
                for a in declaration.get("outputArtifacts") or []
            ]
        except (UnresolvedVariable, ValueError) as error:
            return ActionResult.failed(str(error), code="ConfigurationError")
        action.update(resolved_configuration=configuration, input_artifacts=inputs)
        self.emit(events.ACTION, run, events.action_detail(run, action, "STARTED"))
        provider = self.providers.find(action.action_type)
        if provider is None:
            return self.providers.missing(action.action_type)
        context = ActionContext(
            pipeline_name=run.pipeline_name,
            pipeline_version=run.version,
            execution_id=run.id,
            stage=action.stage,
            action=action.name,
            action_type=action.action_type,
            configuration=configuration,
            input_artifacts=inputs,
            output_artifacts=outputs,
            input_revisions={
                a["name"]: run.artifact_commits[a["name"]]
                for a in inputs
                if a["name"] in run.artifact_commits
            },
            region=declaration["region"],
            account=self.account,
            role_arn=declaration.get("roleArn"),
            trigger=dict(run.trigger),
            source_override=run.source_overrides.get(action.name),
            abandoned=run.abandon,
            client=self.client,
            progress=lambda **fields: self._progress(action, fields),
            action_execution_id=action.id,
        )
        result = provider.run(context)
        if result.status == "Succeeded":
            action.update(output_artifacts=outputs)
        return result

    def _progress(self, action: ActionRun, fields: dict[str, Any]) -> None:
        with self._lock:
            action.update(**fields)

    def _record(self, run: PipelineRun, action: ActionRun, result: ActionResult) -> None:
        with self._lock:
            action.update(
                status=result.status,
                summary=result.summary,
                external_execution_id=result.external_execution_id or action.external_execution_id,
                external_execution_url=result.external_execution_url
                or action.external_execution_url,
                error={"code": result.error_code, "message": result.error_message or ""}
                if result.status != "Succeeded" and result.error_code
                else None,
                output_variables=dict(result.output_variables),
                updated_by=result.updated_by,
                revision=result.revision,
            )
            if result.status != "Succeeded":
                return
            namespace = action.declaration.get("namespace")
            if namespace:
                run.namespaces[namespace] = dict(result.output_variables)
            for artifact in action.output_artifacts:
                run.artifacts[artifact["name"]] = artifact
                if result.revision:
                    run.artifact_commits[artifact["name"]] = result.revision["revisionId"]
            if result.revision:
                _record_revision(run, action, result.revision)
            run.touch()


def _builtin(run: PipelineRun) -> dict[str, str]:
    return {"PipelineExecutionId": run.id}


def _record_revision(run: PipelineRun, action: ActionRun, revision: dict[str, Any]) -> None:
    for artifact in action.output_artifacts or [{"name": action.name}]:
        run.artifact_revisions.append(
            {
                "name": artifact["name"],
                "revisionId": revision["revisionId"],
                "revisionSummary": revision.get("revisionSummary"),
                "revisionUrl": revision.get("revisionUrl"),
                "created": revision.get("created"),
            }
        )
    run.source_revisions.append(
        {
            "actionName": action.name,
            "revisionId": revision["revisionId"],
            "revisionSummary": revision.get("revisionSummary"),
            "revisionUrl": revision.get("revisionUrl"),
        }
    )
