"""`mlops local up` deploys the stack into the twin as `sam deploy` would (--config-env,
--parameter-overrides), answers CloudFormation's reads for it, and stops cleanly on SIGTERM
as on Ctrl-C — also started as a background job, which a shell starts with SIGINT ignored."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from mlops.twin.stack import RESTART_NOTICE

pytestmark = [pytest.mark.twin, pytest.mark.slow]

READY = "Ctrl-C (or SIGTERM) stops it."


def start_up(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """`mlops local up` as a background job: SIGINT ignored, its own temporary folder."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlops.cli", "local", "up", "--port", "0", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def read_until(process: subprocess.Popen, marker: str, timeout: float = 180) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            return lines
    process.kill()
    raise AssertionError("\n".join(lines))


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except (FileNotFoundError, ProcessLookupError):  # the thread or process ended
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_local_up_deploys_the_config_env_with_overrides_and_stops_cleanly_on_sigterm(
    tmp_path, monkeypatch, mlops
):
    work = tmp_path / "tmp"
    work.mkdir()
    up = start_up(
        work,
        "--config-env",
        "dev",
        "--parameter-overrides",
        "DeploymentStrategy=LINEAR",
        "AutoApprove=false",
    )
    try:
        lines = read_until(up, READY)
        url = re.search(r"twin listening on (http://127\.0\.0\.1:\d+)", "\n".join(lines))[1]
        assert RESTART_NOTICE in lines
        assert f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing \\" in lines
        assert "  mlops status --stack-name mlops-dev" in lines
        # The stack is the dev environment's, with the command line's overrides on top.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        cloudformation = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
        (stack,) = cloudformation.describe_stacks(StackName="mlops-dev")["Stacks"]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert parameters["DeploymentStrategy"] == "LINEAR"  # the command line's
        assert parameters["AutoApprove"] == "false"  # the command line's over samconfig's
        assert parameters["Environment"] == "dev"  # samconfig's dev environment
        assert parameters["ArchiveRetentionDays"] == "30"  # samconfig's over the template's
        status = mlops("status", "--json", "--config-env", "dev", "--endpoint-url", url)
        assert status.code == 0, status
        assert status.json["stack"]["name"] == "mlops-dev"
        # A workflow run starts Lambda worker processes (nothing is live, so it ends NotNeeded).
        nothing = mlops(
            "rollback", "--reason", "smoke", "--config-env", "dev", "--endpoint-url", url
        )
        assert nothing.code == 5 and "nothing is live" in nothing.err, nothing
        children = descendants(up.pid)
        assert children, "the twin runs worker processes"
        # When it gets SIGTERM (SIGINT is ignored in a background job),
        up.send_signal(signal.SIGTERM)
        out, _ = up.communicate(timeout=120)
    finally:
        up.kill()
    # then it stops cleanly: exit 0, every process it started gone, no temporary folder left.
    assert up.returncode == 0, out
    assert "stopping the twin ..." in out and "stopped: no process" in out
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in children if alive(pid)] == []
    assert list(work.iterdir()) == []


def test_local_up_refuses_a_parameter_the_template_does_not_declare(tmp_path):
    up = start_up(tmp_path, "--parameter-overrides", "NoSuchParameter=1")
    out, _ = up.communicate(timeout=120)
    assert up.returncode == 2, out
    assert out.splitlines()[-1] == (
        "mlops: the stack cannot be deployed: Parameters: ['NoSuchParameter'] do not exist "
        "in the template"
    )
    assert list(tmp_path.iterdir()) == []
