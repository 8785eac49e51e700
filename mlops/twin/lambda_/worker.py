"""Worker process of the twin's Lambda runtime: imports one handler once, then serves invocations.

Started by mlops.twin.lambda_.process (WorkerProcess) as
    python -m mlops.twin.lambda_.worker <request_fd> <response_fd> <log_barrier>
with cwd = the function's code directory and the Lambda environment variables already set.

Protocol: one JSON document per line on two dedicated pipes (never stdout/stderr, which carry the
handler's logs). After each phase (init, every invocation) the worker flushes stdout/stderr and
writes `<log_barrier><tag>` on stdout, so the parent knows it has every log line of that phase.

Behaviour follows the AWS Python runtime interface client (awslambdaric): the error document
shape, the Runtime.* fault types, the root logging handler and its line format. Only the standard
library is imported here (botocore too when the function's environment has it: see below). The
parent's end of the protocol is process.py (WorkerProcess).

Fault injection for crash tests (runtime.py `crash_after`): an invocation request may name AWS
operations (`"crash_after": ["dynamodb.PutItem"]`, client name and operation). A botocore
`after-call` hook, registered on every client the handler creates, then kills this process
with SIGKILL right after such a call got its answer, as an out-of-memory kill would: the call's
effect stands, the handler never returns. Before dying the worker tells the runtime which call
it was (`{"crashed_after": ...}` on the reply pipe).
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]

_current_request_id = ""
_crash_after: frozenset[str] = frozenset()  # "service.Operation" names armed for this invocation
_replies: Any = None  # the reply pipe, for the crash notice


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


def fault_document(request_id: str, detail: str, error_type: str) -> dict[str, Any]:
    """A fault the Lambda service detects itself (timeout, exit, out of memory): no stackTrace,
    and the message names the request ("RequestId: <id> Error: Task timed out after ...")."""
    return {"errorMessage": f"RequestId: {request_id} Error: {detail}", "errorType": error_type}


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


def _after_call(model: Any = None, **_: Any) -> None:
    """botocore `after-call` handler: die right after an armed operation was answered."""
    operation = f"{model.service_model.service_name}.{model.name}" if model is not None else ""
    if operation in _crash_after:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        if _replies is not None:
            _replies.write(json.dumps({"crashed_after": operation}).encode() + b"\n")
        os.kill(os.getpid(), signal.SIGKILL)


def _install_crash_hook() -> None:
    """Register `_after_call` on every botocore client created from now on (a no-op for a
    function whose environment has no botocore)."""
    try:
        from botocore.session import Session
    except ImportError:
        return
    create_client = Session.create_client

    def create_client_with_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("after-call", _after_call)
        return client

    Session.create_client = create_client_with_hook  # type: ignore[method-assign]


def _log_barrier(barrier: str, tag: str) -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()
    os.write(1, f"{barrier}{tag}\n".encode())


def _invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    global _current_request_id, _crash_after
    request_id = request["request_id"]
    _current_request_id = request_id
    _crash_after = frozenset(request.get("crash_after") or ())
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
    _crash_after = frozenset()
    reply["duration_ms"] = (time.perf_counter() - started) * 1000
    reply["max_memory_mb"] = _peak_rss_mb()
    return reply


def main(argv: list[str]) -> int:
    global _replies
    request_fd, response_fd, barrier = int(argv[1]), int(argv[2]), argv[3]
    requests = os.fdopen(request_fd, "rb")
    responses = _replies = os.fdopen(response_fd, "wb", buffering=0)

    def reply(message: dict[str, Any]) -> None:
        responses.write(json.dumps(message).encode() + b"\n")

    _install_root_logging()
    _install_crash_hook()
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
