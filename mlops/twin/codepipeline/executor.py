"""The twin's CodePipeline seam: executions run for real, one thread each (plus one per
parallel action), through the pipeline structure moto stores (moto's
CodePipelineBackend.pipelines[name].pipeline, the declaration CreatePipeline/UpdatePipeline
recorded, and .metadata["pipelineArn"]).

StartPipelineExecution, StopPipelineExecution (stop and wait: running actions finish; abandon:
they are Abandoned), RetryStageExecution (FAILED_ACTIONS or ALL_ACTIONS of a failed stage of
the latest execution) and PutApprovalResult land here. Uninstalling abandons every execution
and joins every thread: nothing keeps running once the twin stops.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.codepipeline.models import codepipeline_backends

from mlops.twin.aws.responses import AwsError
from mlops.twin.aws.timestamps import utcnow
from mlops.twin.codepipeline import events
from mlops.twin.codepipeline.gates import StageGates
from mlops.twin.codepipeline.model import PipelineRun, SourceOverride
from mlops.twin.codepipeline.providers import ProviderRegistry
from mlops.twin.codepipeline.stage import StageRunner
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)


def not_found(kind: str, message: str) -> AwsError:
    return AwsError(message, f"{kind}NotFoundException")


class PipelineExecutor(Seam):
    def __init__(
        self,
        account: str,
        region: str,
        client: Callable[[str], Any],
        providers: ProviderRegistry,
        emit: events.Emit | None = None,
        join_timeout_s: float = 60.0,
    ) -> None:
        self.account, self.region = account, region
        self.providers = providers
        self._emit = emit
        self._lock = threading.RLock()
        self._runs: dict[str, list[PipelineRun]] = {}
        self._threads: set[threading.Thread] = set()
        self._gates = StageGates()
        self._closed = False
        self._join_timeout = join_timeout_s
        self._stages = StageRunner(providers, self._event, client, account, region, self._lock)

    # -- the pipelines moto stores -------------------------------------------------------------
    def declaration(self, name: str) -> tuple[dict[str, Any], str]:
        stored = codepipeline_backends[self.account][self.region].pipelines.get(name)
        if stored is None:
            raise not_found(
                "Pipeline", f"Account '{self.account}' does not have a pipeline with name '{name}'"
            )
        return copy.deepcopy(stored.pipeline), stored.metadata["pipelineArn"]

    def metadata(self, name: str) -> dict[str, Any]:
        """GetPipeline's metadata (pipelineArn, created, updated), as moto records it."""
        self.declaration(name)
        return dict(codepipeline_backends[self.account][self.region].pipelines[name].metadata)

    def pipeline_names(self) -> list[str]:
        return sorted(codepipeline_backends[self.account][self.region].pipelines)

    # -- starting ------------------------------------------------------------------------------
    def start(
        self,
        name: str,
        trigger: dict[str, str],
        variables: list[dict[str, str]] | None = None,
        source_overrides: dict[str, SourceOverride] | None = None,
    ) -> PipelineRun:
        declaration, pipeline_arn = self.declaration(name)
        run = PipelineRun(
            name,
            pipeline_arn,
            declaration,
            trigger,
            variables=_pipeline_variables(declaration, variables or []),
            source_overrides=dict(source_overrides or {}),
        )
        with self._lock:
            if self._closed:
                raise AwsError("The twin's CodePipeline is shut down", "ConflictException")
            self._runs.setdefault(name, []).append(run)
        self._event(events.PIPELINE, run, events.pipeline_detail(run, "STARTED"))
        self._spawn(run, 0, None)
        return run

    # -- stopping, retrying, approving ---------------------------------------------------------
    def stop(self, name: str, execution_id: str, abandon: bool, reason: str | None) -> PipelineRun:
        run = self.run(name, execution_id)
        with self._lock:
            if run.status not in ("InProgress", "Stopping"):
                raise AwsError(
                    f"Unable to stop pipeline execution {execution_id}: it is {run.status}",
                    "PipelineExecutionNotStoppableException",
                )
            if run.stopping and (not abandon or run.abandon.is_set()):
                raise AwsError(
                    f"A stop request is already in progress for {execution_id}",
                    "DuplicatedStopRequestException",
                )
            first = not run.stopping
            run.stopping, run.status = True, "Stopping"
            run.stop_trigger = {"reason": reason or ""}
            run.touch()
        if abandon:
            run.abandon.set()
        if first:
            self._event(events.PIPELINE, run, events.pipeline_detail(run, "STOPPING"))
        self._gates.wake()
        return run

    def retry(self, name: str, stage: str, execution_id: str, mode: str) -> PipelineRun:
        run = self.run(name, execution_id)
        with self._lock:
            stage_run = run.stages.get(stage)
            if stage not in [s["name"] for s in run.declaration["stages"]]:
                raise not_found("Stage", f"Stage {stage} does not exist in pipeline {name}")
            if (
                stage_run is None
                or stage_run.status not in ("Failed", "Stopped")
                or (run.status not in ("Failed", "Stopped"))
            ):
                raise AwsError(
                    f"Stage {stage} of execution {execution_id} has no failed actions to retry",
                    "StageNotRetryableException",
                )
            latest = self.latest_in_stage(name, stage)
            if latest is not run:
                raise AwsError(
                    f"Execution {execution_id} is not the latest execution of stage {stage}",
                    "NotLatestPipelineExecutionException",
                )
            run.status, run.status_summary, run.stopping = "InProgress", None, False
            run.abandon.clear()
            run.done.clear()
            run.attempt += 1
            run.touch()
        self._event(events.PIPELINE, run, events.pipeline_detail(run, "RESUMED"))
        self._spawn(run, run.stage_index(stage), mode)
        return run

    # -- queries -------------------------------------------------------------------------------
    def run(self, name: str, execution_id: str) -> PipelineRun:
        self.declaration(name)  # PipelineNotFoundException first, as the API answers
        with self._lock:
            for run in self._runs.get(name, []):
                if run.id == execution_id:
                    return run
        raise not_found(
            "PipelineExecution",
            f"Account '{self.account}' does not have an execution with id '{execution_id}' "
            f"for pipeline '{name}'",
        )

    def runs(self, name: str) -> list[PipelineRun]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._runs.get(name, [])))

    def latest_in_stage(self, name: str, stage: str) -> PipelineRun | None:
        with self._lock:
            entered = [r for r in self._runs.get(name, []) if stage in r.stages]
        return max(entered, key=lambda r: r.stages[stage].entered, default=None)

    def waiting(self, name: str, stage: str) -> list[PipelineRun]:
        return self._gates.waiting(name, stage)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def wait(self, name: str, execution_id: str, timeout: float) -> str:
        """The execution's status once it has ended (or as it is when `timeout` passes)."""
        run = self.run(name, execution_id)
        run.done.wait(timeout)
        return run.status

    # -- seam ----------------------------------------------------------------------------------
    def install(self) -> None:
        """Nothing runs until an execution starts."""

    def uninstall(self) -> None:
        with self._lock:
            self._closed = True
            runs = [r for rs in self._runs.values() for r in rs]
            threads = list(self._threads)
        for run in runs:
            run.stopping = True
            run.abandon.set()
        self._gates.close()
        for thread in threads:
            thread.join(self._join_timeout)
            if thread.is_alive():
                log.error("pipeline thread %s did not end", thread.name)

    # -- driving an execution ------------------------------------------------------------------
    def _spawn(self, run: PipelineRun, first_stage: int, retry_mode: str | None) -> None:
        thread = threading.Thread(
            target=self._drive,
            args=(run, first_stage, retry_mode),
            name=f"twin-pipeline-{run.pipeline_name}-{run.id[:8]}",
            daemon=True,
        )
        with self._lock:
            if self._closed:
                raise AwsError("The twin's CodePipeline is shut down", "ConflictException")
            self._threads.add(thread)
        thread.start()

    def _drive(self, run: PipelineRun, first_stage: int, retry_mode: str | None) -> None:
        try:
            for index, stage in enumerate(run.declaration["stages"][first_stage:], first_stage):
                if not self._gates.enter(run, stage["name"]):
                    return self._finish(run, "Superseded" if run.superseded else "Stopped")
                try:
                    status = self._stages.run(
                        run, stage, retry_mode if index == first_stage else None
                    )
                finally:
                    self._gates.leave(run, stage["name"])
                if status != "Succeeded":
                    return self._finish(run, status, _failure_summary(run, stage["name"]))
            self._finish(run, "Succeeded")
        except Exception as error:  # noqa: BLE001 - a twin bug must still end the execution
            log.exception("pipeline execution %s crashed", run.id)
            self._finish(run, "Failed", f"InternalError: {error}")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _finish(self, run: PipelineRun, status: str, summary: str | None = None) -> None:
        with self._lock:
            run.status, run.status_summary = status, summary
            run.last_update = utcnow()
        self._event(events.PIPELINE, run, events.pipeline_detail(run, status.upper()))
        run.done.set()

    def _event(self, detail_type: str, run: PipelineRun, detail: dict[str, Any]) -> None:
        if self._emit is None:
            return
        try:
            self._emit(detail_type, detail, [run.pipeline_arn])
        except Exception:  # noqa: BLE001 - the bus must not break the execution
            log.exception("could not emit %s for %s", detail_type, run.id)


def _failure_summary(run: PipelineRun, stage: str) -> str | None:
    stage_run = run.stages.get(stage)
    if stage_run is None:
        return None
    for action in stage_run.actions.values():
        if action.status in ("Failed", "Abandoned"):
            message = (action.error or {}).get("message") or action.summary or action.status
            return f"Action {action.name} in stage {stage}: {message}"
    return None


def _pipeline_variables(declaration: dict[str, Any], given: list[dict[str, str]]) -> dict[str, str]:
    """Pipeline-level variables (V2): declared defaults, overridden at start; an undeclared
    name is refused, as StartPipelineExecution refuses it."""
    declared = {v["name"]: v.get("defaultValue", "") for v in declaration.get("variables") or []}
    for variable in given:
        if variable["name"] not in declared:
            raise AwsError(f"Pipeline variable {variable['name']} is not declared")
        declared[variable["name"]] = variable["value"]
    return declared
