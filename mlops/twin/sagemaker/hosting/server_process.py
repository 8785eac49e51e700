"""Start, health-check, call and stop one model_server.py subprocess."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import mlops
from mlops.twin.sagemaker.hosting.artifacts import StagedModel
from mlops.twin.sagemaker.hosting.model_server import MODEL_LATENCY_HEADER

PROJECT_ROOT = Path(mlops.__file__).resolve().parent.parent
INVOKE_TIMEOUT_SECONDS = 60.0  # the runtime's documented limit for a container's answer


class ServerStartError(Exception):
    """The server exited or did not pass /ping in time; the message says why."""


@dataclass(frozen=True)
class ContainerReply:
    status: int
    body: bytes
    content_type: str
    model_latency_us: int


@dataclass
class ModelServerProcess:
    """A running server: `popen` is public so callers (and tests) can see it end. It keeps
    how it was started, so `restart()` starts the same model again (a replaced instance)."""

    variant_name: str
    config_name: str
    log_path: Path
    popen: subprocess.Popen
    port: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)
    _launch: tuple[StagedModel, Path, dict[str, str]] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        staged: StagedModel,
        variant_name: str,
        config_name: str,
        instance_dir: Path,
        env: dict[str, str],
    ) -> ModelServerProcess:
        log_path = instance_dir / "server.log"
        log = log_path.open("ab")
        command = [sys.executable, "-m", "mlops.twin.sagemaker.hosting.model_server"]
        command += ["--model-dir", str(staged.model_dir)]
        if staged.code_dir is not None:
            command += ["--code-dir", str(staged.code_dir)]
        if staged.program:
            command += ["--program", staged.program]
        child_env = dict(env)
        paths = [str(PROJECT_ROOT), child_env.get("PYTHONPATH", "")]
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        child_env["SM_MODEL_DIR"] = str(staged.model_dir)
        popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # closed by stop(); the child exits on EOF
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=instance_dir,
            env=child_env,
        )
        return cls(
            variant_name,
            config_name,
            log_path,
            popen,
            _log=log,
            _launch=(staged, instance_dir, env),
        )

    def restart(self, instance_dir: Path | None = None) -> ModelServerProcess:
        """A new process serving the same staged model, from the same directory (its log goes
        on in the same file: a replaced instance) or from `instance_dir` (one more instance of
        the variant); wait_healthy() it before sending it requests."""
        assert self._launch is not None
        staged, own_dir, env = self._launch
        return ModelServerProcess.start(
            staged, self.variant_name, self.config_name, instance_dir or own_dir, env
        )

    def wait_healthy(self, timeout: float, cancel: threading.Event | None = None) -> None:
        """Read the port line, then poll /ping until 200; raise ServerStartError if not."""
        deadline = time.monotonic() + timeout
        self.port = self._read_port(deadline)
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                raise ServerStartError("cancelled: the endpoint is being deleted")
            if self.popen.poll() is not None:
                raise ServerStartError(self._exit_reason())
            try:
                if self._request("GET", "/ping", b"", {}, timeout=2.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise ServerStartError(f"no healthy /ping within {timeout:.0f}s")

    def _read_port(self, deadline: float) -> int:
        assert self.popen.stdout is not None
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.popen.stdout], [], [], remaining)
        line = self.popen.stdout.readline() if ready else b""
        self.popen.stdout.close()
        try:
            return int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            if ready and not line:  # EOF before the port line: the child is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=5)
            raise ServerStartError(self._exit_reason()) from None

    def _exit_reason(self) -> str:
        tail = self.log_tail()
        code = self.popen.poll()
        return f"exit code {code}: {tail}" if code is not None else f"no port reported: {tail}"

    def log_tail(self, lines: int = 1) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read(), response
        finally:
            conn.close()

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> ContainerReply:
        """POST /invocations; raises OSError if the server cannot be reached."""
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        status, payload, response = self._request(
            "POST", "/invocations", body, headers, INVOKE_TIMEOUT_SECONDS
        )
        return ContainerReply(
            status,
            payload,
            response.getheader("Content-Type") or "application/octet-stream",
            int(response.getheader(MODEL_LATENCY_HEADER) or 0),
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """Terminate (then kill) the process and reap it; idempotent."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        if self._log is not None and not self._log.closed:
            self._log.close()
