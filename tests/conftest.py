"""Fixtures every suite may use: a Lambda context, the event loader and an offline AWS.

`events/` holds real-shaped events shared with `sam local invoke -e`; the loader only reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "events"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools' inject_lambda_context reads from the real LambdaContext."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:test-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """load_event("s3_object_created") reads events/s3_object_created.json (".json" optional)."""

    def load(name: str) -> Any:
        path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
        return json.loads(path.read_text(encoding="utf-8"))

    return load


@cache
def _shared_boto3_session() -> boto3.session.Session:
    """One session for every test: it caches service models, which makes clients ~10x cheaper
    to create than on the fresh default session moto installs per mock."""
    return boto3.session.Session()


@cache
def _client(service: str) -> Any:
    return _shared_boto3_session().client(service)


@cache
def _resource(service: str) -> Any:
    return _shared_boto3_session().resource(service)


class OfflineAws:
    """Clients for arranging and inspecting moto's state. They are shared across tests (moto
    intercepts whichever mock is active; building a SageMaker client costs ~50 ms), so never
    attach a Stubber to them: stub a client of your own."""

    client = staticmethod(_client)
    resource = staticmethod(_resource)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[OfflineAws]:
    """moto's mock_aws with fake credentials; no client can reach a real or twin endpoint."""
    for name in list(os.environ):
        # An endpoint override (the twin's AWS_ENDPOINT_URL) would bypass moto's interception.
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    # No user config file may add an endpoint_url, profile or retries to our clients.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        # mock_aws patches boto3.DEFAULT_SESSION to None and restores it on exit.
        boto3.DEFAULT_SESSION = _shared_boto3_session()
        yield OfflineAws()
