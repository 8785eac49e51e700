"""Worker process of the twin's Lambda runtime: imports one handler once, then serves invocations.

Started by mlops.twin.lambda_.runtime as
    python -m mlops.twin.lambda_.worker <request_fd> <response_fd> <log_barrier>
with cwd = the function's code directory and the Lambda environment variables already set.

Protocol: one JSON document per line on two dedicated pipes (never stdout/stderr, which carry the
handler's logs). After each phase (init, every invocation) the worker flushes stdout/stderr and
writes `<log_barrier><tag>` on stdout, so the parent knows it has every log line of that phase.

Behaviour follows the AWS Python runtime interface client (awslambdaric): the error document
shape, the Runtime.* fault types, the root logging handler and its line format. Only the standard
library is imported here. The parent's end of the same protocol (WorkerProcess) lives in this
file too, so the wire format is defined in one place.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import logging
import os
import queue
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[Any, Any], Any]

_current_request_id = ""


class LambdaContext:
    """The context object a handler receives, with the attributes awslambdaric sets."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, exactly as in awslambdaric (it copies the environment variable).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return f"LambdaContext(aws_request_id={self.aws_request_id}, function={self.function_name})"


class _Fault(Exception):
    """A runtime fault (not the handler's own exception), reported with a Runtime.* type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


def _install_root_logging() -> None:
    """The Lambda Python runtime preinstalls this root handler; handlers rely on it."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def error_document(
    message: str, error_type: str, request_id: str = "", stack: list[str] | None = None
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _exception_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the runtime's own frames so the trace starts in user code, as awslambdaric does.
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    stack = traceback.format_list(frames)
    return error_document(str(exc), exc.__class__.__name__, request_id, stack)


def _log_error(doc: dict[str, Any]) -> None:
    lines = [f"[ERROR] {doc['errorType']}: {doc['errorMessage']}"]
    if doc["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line for entry in doc["stackTrace"] for line in entry.splitlines())
    print("\n".join(lines), flush=True)


def _load_handler(handler_name: str) -> Handler:
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        message = f"Bad handler '{handler_name}': {exc}"
        raise _Fault("Runtime.MalformedHandlerName", message) from exc
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise _Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _Fault("Runtime.HandlerNotFound", message)
    return handler


def _json_default(value: Any) -> Any:
    # awslambdaric (simplejson) encodes Decimal natively; DynamoDB hands handlers Decimals.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _peak_rss_mb() -> float:
    """Peak resident memory of this worker (and its children), in MB.

    On Linux, read VmHWM: `ru_maxrss` of a fresh process is inherited from its parent at fork,
    so a worker started by the large twin process would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    own_kb = int(line.split()[1])
                    break
            else:
                raise OSError("no VmHWM")
        children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return (own_kb + children_kb) / 1024
    except OSError:  # not Linux: best effort
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS
        return (own + children) / per_mb


def _log_barrier(barrier: str, tag: str) -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()
    os.write(1, f"{barrier}{tag}\n".encode())


def _invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    global _current_request_id
    request_id = request["request_id"]
    _current_request_id = request_id
    context = LambdaContext(request_id, request["deadline_ms"], request["invoked_function_arn"])
    started = time.perf_counter()
    reply: dict[str, Any]
    try:
        result = handler(json.loads(request["payload"]), context)
    except Exception as exc:  # every handler exception is the function's error
        reply = {"ok": False, "error": _exception_document(exc, request_id)}
        _log_error(reply["error"])
    else:
        try:
            reply = {"ok": True, "result": json.dumps(result, default=_json_default)}
        except (TypeError, ValueError) as exc:
            doc = error_document(
                f"Unable to marshal response: {exc}", "Runtime.MarshalError", request_id
            )
            reply = {"ok": False, "error": doc}
            _log_error(reply["error"])
    reply["duration_ms"] = (time.perf_counter() - started) * 1000
    reply["max_memory_mb"] = _peak_rss_mb()
    return reply


def main(argv: list[str]) -> int:
    request_fd, response_fd, barrier = int(argv[1]), int(argv[2]), argv[3]
    requests = os.fdopen(request_fd, "rb")
    responses = os.fdopen(response_fd, "wb", buffering=0)

    def reply(message: dict[str, Any]) -> None:
        responses.write(json.dumps(message).encode() + b"\n")

    _install_root_logging()
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # any init failure is reported, as Lambda does
        if isinstance(exc, _Fault):  # like awslambdaric: a runtime fault carries no user trace
            doc = error_document(str(exc), exc.error_type)
        else:
            doc = _exception_document(exc, "")
        _log_error(doc)
        _log_barrier(barrier, "init")
        reply({"ok": False, "error": doc})
        return 1
    _log_barrier(barrier, "init")
    reply({"ok": True, "max_memory_mb": _peak_rss_mb()})
    for line in requests:  # EOF: the runtime retired this worker (or died)
        request = json.loads(line)
        message = _invoke(handler, request)
        _log_barrier(barrier, request["request_id"])
        reply(message)
    if os.getpgrp() == os.getpid():  # started by the runtime: take the handler's strays along
        os.killpg(0, signal.SIGKILL)
    return 0


# -- the runtime's end of the protocol -------------------------------------------------------

# After a reply, the phase's barrier is already in the log pipe; after a kill, EOF follows soon
# unless a grandchild escaped the process group with the pipe open. Neither wait is expected.
_LOG_SETTLE_S = 5.0


@dataclass
class Outcome:
    """What one phase (init or an invocation) of a worker produced."""

    ok: bool = False
    result: str | None = None  # the handler's JSON result
    error: dict[str, Any] | None = None  # the runtime's error document
    timed_out: bool = False
    exit_status: str | None = None  # "exit status 1" / "signal: killed" when the worker died
    duration_ms: float = 0.0
    max_memory_mb: float = 0.0
    lines: list[str] = field(default_factory=list)
    healthy: bool = True  # the worker may serve another invocation


class WorkerProcess:
    """One execution environment: a worker subprocess and two threads reading its pipes."""

    def __init__(self, code_dir: Path, env: dict[str, str], generation: int) -> None:
        self.generation = generation
        self.last_used = time.monotonic()
        self.init_ms: float | None = None
        self._last_memory_mb = 0.0  # the worker's own report: a dead process has no /proc entry
        self._barrier = f"\x1etwin-log-barrier-{secrets.token_hex(8)}:"
        self._replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._log = threading.Condition()
        self._lines: list[str] = []
        self._tags: set[str] = set()
        self._log_eof = False
        self._reply_eof = False
        self._kill_lock = threading.Lock()
        self._killed = False
        self._started = time.monotonic()
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlops.twin.lambda_.worker",
                    str(request_r),
                    str(reply_w),
                    self._barrier,
                ],
                cwd=code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(request_r, reply_w),
                start_new_session=True,  # its own process group: kill() takes grandchildren too
            )
        except BaseException:
            os.close(request_w)
            os.close(reply_r)
            raise
        finally:
            os.close(request_r)
            os.close(reply_w)
        self.pid = self._proc.pid
        self._requests = os.fdopen(request_w, "wb", buffering=0)
        self._reply_stream = os.fdopen(reply_r, "rb")
        self._threads = [
            threading.Thread(
                target=self._read_replies, name=f"lambda-replies-{self.pid}", daemon=True
            ),
            threading.Thread(target=self._read_logs, name=f"lambda-logs-{self.pid}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def alive(self) -> bool:
        return not self._reply_eof and not self._killed

    def initialise(self, limit_s: float) -> Outcome:
        """Waits for the handler import; init_ms spans interpreter start to handler ready."""
        reply, timed_out = self._wait_reply(limit_s)
        self.init_ms = (time.monotonic() - self._started) * 1000
        outcome = self._finish(reply, timed_out, "init", self.init_ms)
        outcome.healthy = outcome.healthy and outcome.ok
        return outcome

    def invoke(self, request_id: str, payload: str, invoked_arn: str, timeout_s: float) -> Outcome:
        message = {
            "request_id": request_id,
            "payload": payload,
            "invoked_function_arn": invoked_arn,
            "deadline_ms": int((time.time() + timeout_s) * 1000),
        }
        started = time.monotonic()
        try:
            self._requests.write(json.dumps(message).encode() + b"\n")
        except OSError:  # the worker is gone; _finish reports how it exited
            reply, timed_out = None, False
        else:
            reply, timed_out = self._wait_reply(timeout_s)
        return self._finish(reply, timed_out, request_id, (time.monotonic() - started) * 1000)

    def kill(self) -> None:
        """SIGKILLs the worker's process group, reaps it and joins its reader threads."""
        with self._kill_lock:  # held throughout: a second caller returns once it is all done
            if self._killed:
                return
            self._killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)  # leader not reaped yet: pgid is ours
            self._proc.wait()
            with contextlib.suppress(OSError):
                self._requests.close()
            for thread in self._threads:
                thread.join(timeout=_LOG_SETTLE_S)

    def _wait_reply(self, timeout_s: float) -> tuple[dict[str, Any] | None, bool]:
        try:
            return self._replies.get(timeout=timeout_s), False
        except queue.Empty:
            return None, True

    def _finish(
        self, reply: dict[str, Any] | None, timed_out: bool, tag: str, elapsed_ms: float
    ) -> Outcome:
        outcome = Outcome(timed_out=timed_out, duration_ms=elapsed_ms)
        if reply is None:  # timed out or died: take the measurements, then the process
            outcome.max_memory_mb = max(self._peak_memory_mb(), self._last_memory_mb)
            outcome.healthy = False
            self.kill()
            if not timed_out:
                outcome.exit_status = _describe_exit(self._proc.returncode)
        else:
            outcome.ok = bool(reply.get("ok"))
            outcome.result = reply.get("result")
            outcome.error = reply.get("error")
            outcome.duration_ms = reply.get("duration_ms", elapsed_ms)
            outcome.max_memory_mb = self._last_memory_mb = reply.get("max_memory_mb", 0.0)
        outcome.lines = self._take_lines(tag)
        return outcome

    def _take_lines(self, tag: str) -> list[str]:
        with self._log:
            self._log.wait_for(lambda: tag in self._tags or self._log_eof, _LOG_SETTLE_S)
            self._tags.discard(tag)
            lines, self._lines = self._lines, []
        return lines

    def _peak_memory_mb(self) -> float:
        try:  # VmHWM: the process's peak resident set (Linux)
            status = Path(f"/proc/{self._proc.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _read_replies(self) -> None:
        try:
            for line in self._reply_stream:
                self._replies.put(json.loads(line))
        finally:
            self._reply_eof = True
            self._replies.put(None)
            self._reply_stream.close()

    def _read_logs(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            for raw in stdout:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                at = text.find(self._barrier)
                with self._log:
                    if at < 0:
                        self._lines.append(text)
                        continue
                    if at > 0:  # the handler left an unterminated line before the barrier
                        self._lines.append(text[:at])
                    self._tags.add(text[at + len(self._barrier) :])
                    self._log.notify_all()
        finally:
            with self._log:
                self._log_eof = True
                self._log.notify_all()
            stdout.close()


def _describe_exit(returncode: int | None) -> str:
    """Go-style text, as the Lambda service writes it ("exit status 1", "signal: killed")."""
    if returncode is None or returncode >= 0:
        return f"exit status {returncode}"
    return f"signal: {(signal.strsignal(-returncode) or str(-returncode)).lower()}"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
