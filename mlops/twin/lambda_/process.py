"""The runtime's end of the worker protocol (worker.py): one execution environment is a
`python -m mlops.twin.lambda_.worker` subprocess, driven over two pipes, its stdout read as the
function's log."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER_MODULE = "mlops.twin.lambda_.worker"

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
    crashed_after: str | None = None  # the AWS call after which an injected crash killed it


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
                    WORKER_MODULE,
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

    def invoke(
        self,
        request_id: str,
        payload: str,
        invoked_arn: str,
        timeout_s: float,
        crash_after: tuple[str, ...] = (),
    ) -> Outcome:
        """Run one invocation; `crash_after` arms injected crashes (worker.py)."""
        message = {
            "request_id": request_id,
            "payload": payload,
            "invoked_function_arn": invoked_arn,
            "deadline_ms": int((time.time() + timeout_s) * 1000),
            "crash_after": list(crash_after),
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
        if reply is not None and "crashed_after" in reply:  # it is killing itself right now
            outcome.crashed_after = str(reply["crashed_after"])
            self._wait_exit(_LOG_SETTLE_S)  # its own SIGKILL then gives the exit status
            reply = None
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

    def _wait_exit(self, timeout_s: float) -> None:
        """Wait until the process has exited, without reaping it (kill() still owns its
        process group)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            flags = os.WEXITED | os.WNOWAIT | os.WNOHANG
            try:
                if os.waitid(os.P_PID, self._proc.pid, flags) is not None:
                    return
            except ChildProcessError:  # already reaped
                return
            time.sleep(0.005)

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
