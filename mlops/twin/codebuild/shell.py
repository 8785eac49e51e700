"""Buildspec commands run the way version 0.2 runs them: one after another, each seeing the
environment and working directory the previous one left ("In build spec version 0.1, CodeBuild
runs each command in a separate instance of the default shell ... version 0.2 solves this
issue", Build specification reference).

Each command runs in its own shell process (its own process group, so a stop or a timeout
kills everything it started); a trap writes the exported environment and the working directory
when the shell exits, and the next command starts from them. Shell variables that are not
exported do not survive from one command to the next.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from mlops.twin.sagemaker.jobs.common import terminate_group

_STATE_VARS = ("TWIN_CB_ENV_OUT", "TWIN_CB_PWD_OUT", "TWIN_CB_CWD")
_PRELUDE = """__twin_cb_exit() {
  __twin_cb_rc=$?
  env -0 > "$TWIN_CB_ENV_OUT"
  pwd > "$TWIN_CB_PWD_OUT"
  exit $__twin_cb_rc
}
trap __twin_cb_exit EXIT
cd "$TWIN_CB_CWD" || exit 1
unset TWIN_CB_CWD
"""


class ShellSession:
    """The build's shell: environment and working directory carried from command to command."""

    def __init__(self, shell: str, env: dict[str, str], cwd: Path, state_dir: Path) -> None:
        self.shell = shutil.which("bash" if "bash" in shell else "sh") or "/bin/sh"
        self.env, self.cwd = dict(env), Path(cwd)
        self._state = state_dir
        self._state.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def run(self, command: str, output: Callable[[str], None], timeout_s: float | None) -> int:
        """Run one command; its output lines go to `output`. The exit status, or -1 if the
        session was stopped or the timeout passed while it ran."""
        env_out, pwd_out = self._state / "env", self._state / "pwd"
        for path in (env_out, pwd_out):
            path.unlink(missing_ok=True)
        env = self.env | {
            "TWIN_CB_ENV_OUT": str(env_out),
            "TWIN_CB_PWD_OUT": str(pwd_out),
            "TWIN_CB_CWD": str(self.cwd),
        }
        with self._lock:
            if self._stopped:
                return -1
            self._process = subprocess.Popen(
                [self.shell, "-c", _PRELUDE + command],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        process = self._process
        timer = threading.Timer(timeout_s, self.stop) if timeout_s else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                output(raw.decode("utf-8", errors="replace").rstrip("\n"))
            returncode = process.wait()
        finally:
            if timer:
                timer.cancel()
            with self._lock:
                self._process = None
        self._load_state(env_out, pwd_out)
        return -1 if self._stopped else returncode

    def stop(self, grace_seconds: float = 2.0) -> None:
        """No further command runs; the running one (and everything it started) is killed."""
        with self._lock:
            self._stopped = True
            process = self._process
        if process is not None:
            terminate_group(process, grace_seconds)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _load_state(self, env_out: Path, pwd_out: Path) -> None:
        try:
            entries = env_out.read_bytes().split(b"\0")
        except FileNotFoundError:  # the shell was killed before its trap ran
            return
        env = {}
        for entry in entries:
            name, sep, value = entry.decode("utf-8", errors="replace").partition("=")
            if sep and name not in _STATE_VARS and name not in ("PWD", "OLDPWD", "SHLVL", "_"):
                env[name] = value
        self.env = env
        try:
            cwd = Path(pwd_out.read_text().strip())
        except FileNotFoundError:
            return
        if cwd.is_dir():
            self.cwd = cwd


def base_path(extra_bin: str | None = None) -> str:
    """PATH of the build image: the twin's interpreter first (it is the image's Python 3.11),
    then the system directories."""
    parts = [extra_bin] if extra_bin else []
    parts += ["/usr/local/bin", "/usr/bin", "/bin"]
    return os.pathsep.join(parts)
