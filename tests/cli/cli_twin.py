"""A stack in the twin for the CLI's end-to-end tests, and `mlops` pointed at it.

Every AWS call the commands make is recorded; when the stack closes, each must be an action
the stack's OperatorPolicy allows (template.yaml), so the policy operators get is exactly
what the command line needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest


@dataclass
class Operated:
    """A stack in the twin, and `mlops` pointed at it."""

    twin: Any
    watcher: Any
    uploaded: tuple[Any, Any] | None = None  # a window that holds the first upload alone
    first_runs: tuple[Any, ...] = ()
    actions: set[str] = field(default_factory=set)  # IAM actions of the calls mlops made

    @property
    def target(self) -> list[str]:
        return [
            "--stack-name",
            self.twin.stack.name,
            "--endpoint-url",
            self.twin.cloud.url,
            "--region",
            self.twin.cloud.region,
        ]

    def dataset(self) -> bytes:
        return (self.twin.root / "ml" / "data" / "breast_cancer.csv").read_bytes()

    def settle(self, before: set[str], timeout: float = 240) -> list[Any]:
        """Waits until the executions started after `before`, and those their outcomes start a
        moment later (a registration, a rejection), have ended; returns them."""
        assert self.watcher.wait(
            lambda w: set(w.executions) - before != set() and not w.running(), timeout
        ), [(v.workflow, v.status) for v in self.watcher.executions.values()]
        time.sleep(1.5)
        assert self.watcher.wait(lambda w: not w.running(), timeout)
        return [v for arn, v in self.watcher.executions.items() if arn not in before]

    def upload(self, key: str, body: bytes) -> list[Any]:
        before = set(self.watcher.executions)
        self.twin.upload_dataset(key, body)
        return self.settle(before)


@contextmanager
def operated(**parameters: str) -> Iterator[Operated]:
    """A stack in the twin (template parameters over the twin's), the operator's credentials
    in the environment (the CLI reads the standard chain), and its first upload handled."""
    from mlops.control.timeline import Watcher
    from mlops.demo.loop import workflows
    from mlops.twin.stack import start_stack

    with pytest.MonkeyPatch.context() as env:
        recorded: set[str] = set()
        record_calls(env, recorded)
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
                env.delenv(name)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        twin = start_stack(**parameters)
        try:
            watcher = Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _l: None)
            stack = Operated(twin, watcher, actions=recorded)
            started = datetime.now(UTC)
            stack.first_runs = tuple(stack.upload("first.csv", stack.dataset()))
            stack.uploaded = (started, datetime.now(UTC))
            yield stack
        finally:
            twin.close()
        denied = sorted(recorded - operator_policy_actions())
        assert not denied, f"mlops called what OperatorPolicy does not allow: {denied}"


# IAM action names that differ from the operation's (Service Authorization Reference).
_ACTIONS = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "s3:HeadObject": "s3:GetObject",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
}
_PREFIXES = {"monitoring": "cloudwatch"}  # the signing name where it is not the IAM prefix
_NO_PERMISSION = {"sts:GetCallerIdentity"}  # "No permissions are required" (STS API reference)


def iam_action(signing_name: str, operation: str, params: dict[str, Any]) -> str | None:
    action = f"{_PREFIXES.get(signing_name, signing_name)}:{operation}"
    if action == "s3:HeadObject" and params.get("VersionId"):
        return "s3:GetObjectVersion"
    return None if action in _NO_PERMISSION else _ACTIONS.get(action, action)


def record_calls(env: pytest.MonkeyPatch, recorded: set[str]) -> None:
    """Records the IAM action of every call made through the CLI's AwsTarget."""
    from mlops.control.aws import AwsTarget

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        action = iam_action(model.service_model.signing_name, model.name, params)
        if action:
            recorded.add(action)

    original_client, original_resource = AwsTarget.client, AwsTarget.resource

    def client(self: AwsTarget, service: str) -> Any:
        made = original_client(self, service)
        made.meta.events.register("before-call.*.*", record, unique_id="mlops-test-recorder")
        return made

    def resource(self: AwsTarget, service: str) -> Any:
        made = original_resource(self, service)
        made.meta.client.meta.events.register(
            "before-call.*.*", record, unique_id="mlops-test-recorder"
        )
        return made

    env.setattr(AwsTarget, "client", client)
    env.setattr(AwsTarget, "resource", resource)


def operator_policy_actions() -> set[str]:
    from mlops.twin.cloudformation.template import load_template
    from mlops.twin.stack import ROOT

    policy = load_template(ROOT / "template.yaml")["Resources"]["OperatorPolicy"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
