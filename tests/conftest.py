"""Fixtures every suite may use: a Lambda context, the event loader, an offline AWS with the
stack's ledger table, and a Lambda cold start of the shared layer.

`events/` holds real-shaped events shared with `sam local invoke -e`; the loader only reads them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO_ROOT / "events"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
LEDGER_TABLE = "mlops-ledger"  # LEDGER_TABLE of the functions' test environment


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads template.yaml; intrinsic functions (!Ref, !Sub, ...) become placeholders."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, tag, node: f"<{tag}>")


@cache
def _template() -> dict[str, Any]:
    return yaml.load((REPO_ROOT / "template.yaml").read_text(), Loader=_CloudFormationLoader)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml as data (read-only: shared by every test)."""
    return _template()


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


@pytest.fixture
def ledger_table(aws: OfflineAws, template: dict[str, Any]) -> Any:
    """The run ledger in moto, created as template.yaml's LedgerTable (keys, billing mode)."""
    properties = template["Resources"]["LedgerTable"]["Properties"]
    return aws.resource("dynamodb").create_table(
        TableName=LEDGER_TABLE,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
    )


def _forget_service_logger() -> None:
    """Powertools configures the stdlib logger named after the service once per process and
    reuses it, with its handler bound to the sys.stdout of that moment, for every later Logger:
    dropping it from the registry makes the next Logger configure a new one."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
    logging.Logger.manager.loggerDict.pop(service, None)


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """cold_start() makes the next import of the layer's observability and handler decorator
    behave as in a new Lambda execution environment: Logger, Tracer and Metrics are built anew
    from the environment as it is now, the service's logger writes to the current sys.stdout,
    Powertools' process-wide cold-start flags are set again, and no boto3 client is cached."""
    from mlops_common.adapters import client, resource

    def start() -> None:
        for module in ("mlops_common.observability", "mlops_common.handler"):
            monkeypatch.delitem(sys.modules, module, raising=False)
        for flag_module in (
            "aws_lambda_powertools.logging.logger",
            "aws_lambda_powertools.tracing.tracer",
            "aws_lambda_powertools.metrics.provider.cold_start",
        ):
            monkeypatch.setattr(f"{flag_module}.is_cold_start", True)
        _forget_service_logger()
        client.cache_clear()
        resource.cache_clear()

    yield start
    _forget_service_logger()
    client.cache_clear()
    resource.cache_clear()
