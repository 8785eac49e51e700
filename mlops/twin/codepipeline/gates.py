"""Stage locks: how executions share a pipeline ("How pipeline executions work", CodePipeline
user guide; ExecutionMode in the API reference).

- QUEUED: "Executions are processed one by one in the order that they are queued." A stage
  holds one execution at a time; the others wait at its entry, first come first served, so a
  later execution never overtakes an earlier one and no two interleave in a stage.
- SUPERSEDED: "A more recent execution can overtake an older one." As in QUEUED a stage holds
  one execution, but only the newest waits at its entry: an older waiting execution is
  Superseded.
- PARALLEL: "executions run simultaneously and independently": no locks.
"""

from __future__ import annotations

import threading

from mlops.twin.codepipeline.model import PipelineRun


class StageGates:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[tuple[str, str], str] = {}
        self._queues: dict[tuple[str, str], list[PipelineRun]] = {}
        self._closed = False

    def enter(self, run: PipelineRun, stage: str) -> bool:
        """Block until `run` may enter `stage`; False if it was stopped, superseded or the
        twin is stopping while it waited."""
        if run.execution_mode == "PARALLEL":
            return not (run.stopping or self._closed)
        key = (run.pipeline_name, stage)
        with self._changed:
            queue = self._queues.setdefault(key, [])
            if run.execution_mode == "SUPERSEDED":
                for older in queue:
                    older.superseded = True
                queue.clear()
            queue.append(run)
            self._changed.notify_all()
            while True:
                if run.stopping or run.superseded or self._closed:
                    if run in queue:
                        queue.remove(run)
                    run.waiting_for = None
                    self._changed.notify_all()
                    return False
                if key not in self._holders and queue[0] is run:
                    queue.pop(0)
                    self._holders[key] = run.id
                    run.waiting_for = None
                    return True
                run.waiting_for = stage
                self._changed.wait()

    def leave(self, run: PipelineRun, stage: str) -> None:
        with self._changed:
            if self._holders.get((run.pipeline_name, stage)) == run.id:
                del self._holders[(run.pipeline_name, stage)]
            self._changed.notify_all()

    def waiting(self, pipeline: str, stage: str) -> list[PipelineRun]:
        with self._changed:
            return list(self._queues.get((pipeline, stage), []))

    def wake(self) -> None:
        """Let waiting executions look at their stop and superseded flags again."""
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
