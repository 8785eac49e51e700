"""The twin's Lambda execution seam: runs real handlers in warm, isolated worker processes.

moto runs Lambda code only in Docker; the twin has none. Each execution environment here is a
`python -m mlops.twin.lambda_.worker` subprocess (worker.py and process.py: the wire protocol) that
imports the handler once (the cold start) and then serves one invocation at a time. Concurrent
invocations of one function get separate workers, as Lambda scales by concurrency.

Error documents follow the Lambda service. A handler exception is reported by the runtime
(errorMessage/errorType/requestId/stackTrace); faults the service detects carry only
errorMessage/errorType, in the current AWS shape, e.g. for a timeout
    {"errorMessage": "RequestId: <id> Error: Task timed out after 3.00 seconds",
     "errorType": "Sandbox.Timedout"}
(the older "<iso time> <id> Task timed out after ..." text is what Lambda now writes to the log).

Crash tests: `crash_after(function, "dynamodb.PutItem", times=1)` makes the function's worker
kill itself (SIGKILL) right after that AWS call of its handler is answered, `times` times
(faults.py); the invocation then fails as Lambda reports a runtime that died:
Runtime.ExitError, "Runtime exited with error: signal: killed".
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from mlops.twin.aws.timestamps import iso_millis
from mlops.twin.lambda_.asynchronous import DeadLetterSender, run_with_retries
from mlops.twin.lambda_.environment import worker_environment
from mlops.twin.lambda_.faults import Fault, Faults
from mlops.twin.lambda_.function import FunctionSpec, InvalidRequestContent, InvocationResult
from mlops.twin.lambda_.logs import error_of, log_tail, report_line
from mlops.twin.lambda_.process import Outcome, WorkerProcess
from mlops.twin.lambda_.stats import RuntimeStats
from mlops.twin.seam import Seam

_log = logging.getLogger(__name__)

# Lambda's init phase may take up to 10 s on its own; a slower init is retried within the
# invocation's timeout. The twin folds both into one limit.
INIT_LIMIT_S = 10.0
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")

LogSink = Callable[[str, list[str]], None]


@dataclass
class _Function:
    spec: FunctionSpec
    generation: int
    idle: list[WorkerProcess] = field(default_factory=list)


class LambdaRuntime(Seam):
    def __init__(
        self,
        base_env: dict[str, str],
        log_sink: LogSink | None = None,
        idle_timeout_s: float = 300.0,
        enforce_memory: bool = True,
        dead_letter: DeadLetterSender | None = None,
    ) -> None:
        self._base_env = dict(base_env)
        self._dead_letter = dead_letter
        self._log_sink = log_sink
        self._idle_timeout_s = idle_timeout_s
        self._enforce_memory = enforce_memory
        self._lock = threading.Condition()  # guards everything below; wakes the idle reaper
        self._functions: dict[str, _Function] = {}
        self._stats = RuntimeStats()
        self._workers: set[WorkerProcess] = set()
        self._event_threads: set[threading.Thread] = set()
        self._generation = 0
        self._closed = False
        self._faults = Faults()
        self._reaper = threading.Thread(target=self._reap_idle, name="lambda-reaper", daemon=True)
        self._reaper.start()

    # -- registry ---------------------------------------------------------------------------
    def register(self, spec: FunctionSpec) -> None:
        with self._lock:
            self._generation += 1
            old = self._functions.get(spec.name)
            self._functions[spec.name] = _Function(spec, self._generation)
            self._stats.register(spec.name)
            retired = old.idle if old else []  # busy workers retire when they come back
        for worker in retired:
            self._retire(worker)

    def has(self, name_or_arn: str) -> bool:
        try:
            self._resolve(name_or_arn)
        except LookupError:
            return False
        return True

    def _resolve(self, name_or_arn: str) -> _Function:
        # Accepts a name, an ARN, a partial ARN ("<account>:function:<name>") and any qualifier
        # (the twin has only $LATEST, so aliases and versions all run it).
        name = name_or_arn
        if ":function:" in name_or_arn:
            name = name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
        with self._lock:
            function = self._functions.get(name)
        if function is None:
            raise LookupError(f"Function not found: {name_or_arn}")
        return function

    def crash_after(self, function: str, operation: str, times: int = 1) -> Fault:
        """Kill the worker of `function` (name or ARN) right after its handler's AWS call
        `operation` ("service.Operation", botocore's client and operation names) is answered,
        in the next `times` invocations that make that call."""
        name = self._resolve(function).spec.name
        return self._faults.add(name, operation, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def stats(self) -> dict[str, dict]:
        return self._stats.snapshot()

    # -- invoke ---------------------------------------------------------------------------
    def invoke(
        self, name_or_arn: str, payload: bytes, invocation_type: str = "RequestResponse"
    ) -> InvocationResult:
        if invocation_type not in INVOCATION_TYPES:
            raise ValueError(f"Unsupported InvocationType: {invocation_type}")
        function = self._resolve(name_or_arn)
        try:
            text = payload.decode("utf-8") if payload and payload.strip() else "{}"
            json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return InvocationResult(204, b"", None, "", 0.0, None, request_id)
        if invocation_type == "RequestResponse":
            return self._run(function, text, request_id, name_or_arn)
        thread = threading.Thread(
            target=self._run_event,
            name=f"lambda-event-{request_id}",
            args=(function, text, request_id, name_or_arn),
        )
        with self._lock:
            if self._closed:
                raise RuntimeError("LambdaRuntime is shut down")
            self._event_threads.add(thread)
        thread.start()
        return InvocationResult(202, b"", None, "", 0.0, None, request_id)

    def _run_event(self, function: _Function, payload: str, request_id: str, arn: str) -> None:
        try:  # the result is dropped, as Lambda does; failures are retried, then dead-lettered
            run_with_retries(
                function.spec,
                payload,
                lambda: self._run(function, payload, request_id, arn),
                self._dead_letter,
            )
        except Exception:
            _log.exception("asynchronous invocation %s of %s failed", request_id, arn)
        finally:
            with self._lock:
                self._event_threads.discard(threading.current_thread())

    def _run(
        self, function: _Function, payload: str, request_id: str, invoked_as: str
    ) -> InvocationResult:
        spec = function.spec
        started = time.monotonic()
        worker = self._take_idle(function)
        cold = worker is None
        lines: list[str] = []
        outcome: Outcome | None = None
        if worker is None:
            worker = self._start_worker(function)
            lines.append("INIT_START Runtime Version: python:3.11 (twin)")
            outcome = worker.initialise(max(INIT_LIMIT_S, float(spec.timeout_s)))
            lines += outcome.lines
        lines.append(f"START RequestId: {request_id} Version: $LATEST")
        if outcome is None or outcome.ok:
            arn = invoked_as if invoked_as.startswith("arn:") else spec.arn
            armed = self._faults.claim(spec.name)
            try:
                outcome = worker.invoke(
                    request_id, payload, arn, spec.timeout_s, tuple(f.operation for f in armed)
                )
            finally:
                crashed = outcome.crashed_after if outcome is not None else None
                self._faults.settle(armed, crashed, request_id)
            lines += outcome.lines
        error = error_of(outcome, spec, request_id, self._enforce_memory)
        if outcome.timed_out:
            lines.append(
                f"{iso_millis()} {request_id} Task timed out after {spec.timeout_s:.2f} seconds"
            )
        elif error is not None and "stackTrace" not in error:  # a service-side fault
            lines += [error["errorMessage"], error["errorType"]]
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            report_line(request_id, spec, outcome, worker.init_ms if cold else None, error)
        )
        self._release(function, worker, healthy=outcome.healthy)
        total_ms = (time.monotonic() - started) * 1000
        init_ms = worker.init_ms if cold else None
        self._stats.record(spec.name, cold, total_ms, init_ms, error is not None)
        self._emit(spec.name, lines)
        payload_out = (json.dumps(error) if error is not None else outcome.result).encode()
        return InvocationResult(
            status_code=200,
            payload=payload_out,
            function_error="Unhandled" if error is not None else None,
            log_tail=log_tail(lines),
            duration_ms=outcome.duration_ms,
            init_duration_ms=worker.init_ms if cold else None,
            request_id=request_id,
        )

    # -- pool -----------------------------------------------------------------------------
    def _take_idle(self, function: _Function) -> WorkerProcess | None:
        found: WorkerProcess | None = None
        dead: list[WorkerProcess] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("LambdaRuntime is shut down")
            while function.idle and found is None:
                worker = function.idle.pop()  # most recently used first: the warmest
                if worker.alive:
                    found = worker
                else:  # it died while idle (e.g. a background thread of the handler crashed)
                    self._workers.discard(worker)
                    dead.append(worker)
        for worker in dead:
            worker.kill()
        return found

    def _start_worker(self, function: _Function) -> WorkerProcess:
        spec = function.spec
        worker = WorkerProcess(
            spec.code_dir, worker_environment(spec, self._base_env), function.generation
        )
        with self._lock:
            if not self._closed:
                self._workers.add(worker)
                return worker
        worker.kill()
        raise RuntimeError("LambdaRuntime is shut down")

    def _release(self, function: _Function, worker: WorkerProcess, healthy: bool) -> None:
        with self._lock:
            current = self._functions.get(function.spec.name)
            keep = (
                healthy
                and not self._closed
                and current is not None
                and current.generation == worker.generation
            )
            if keep:
                worker.last_used = time.monotonic()
                current.idle.append(worker)
                self._lock.notify_all()
                return
            self._workers.discard(worker)
        worker.kill()

    def _retire(self, worker: WorkerProcess) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.kill()

    def _reap_idle(self) -> None:
        """Retires workers idle for idle_timeout_s; sleeps until the next one is due."""
        while True:
            with self._lock:
                now = time.monotonic()
                expired: list[WorkerProcess] = []
                next_due: float | None = None
                for function in self._functions.values():
                    for worker in list(function.idle):
                        due = worker.last_used + self._idle_timeout_s
                        if due <= now:
                            function.idle.remove(worker)
                            expired.append(worker)
                        else:
                            next_due = due if next_due is None else min(next_due, due)
                if not expired:
                    if self._closed:
                        return
                    self._lock.wait(None if next_due is None else next_due - now)
                    continue
            for worker in expired:
                self._retire(worker)

    # -- bookkeeping ----------------------------------------------------------------------
    def _emit(self, name: str, lines: list[str]) -> None:
        if self._log_sink is None:
            return
        try:
            self._log_sink(name, lines)
        except Exception:  # a broken sink must not fail the invocation
            _log.exception("log sink failed for %s", name)

    def install(self) -> None:
        """Nothing to start: a function's first invocation starts its first worker."""

    def uninstall(self) -> None:
        """Kill every worker, wait for asynchronous invocations, stop the idle reaper."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            for function in self._functions.values():
                function.idle.clear()
            threads = list(self._event_threads)
            self._lock.notify_all()
        for worker in workers:
            worker.kill()
        for thread in threads:
            thread.join()
        self._reaper.join()
