"""Fixtures of the operator CLI's tests: `mlops` run in-process as an operator runs it (argv
in; exit code, stdout and stderr out), against moto (the AWS-only paths) or the twin (a stack
there: cli_twin.py, a module of its own name since several suites have a conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mlops.cli import main


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # what a failed assertion shows
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def mlops(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """mlops("status", "--json") -> Result."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
