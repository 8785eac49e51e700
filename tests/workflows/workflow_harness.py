"""The real state machines, run in the twin with scripted Lambda functions and endpoints.

`twin` starts one local cloud per module (moto's Step Functions interpreter with the twin's
seams, on 127.0.0.1) and creates the three state machines from statemachines/*.asl.json with
their DefinitionSubstitutions pointing at stand-in functions (tests/workflows/standin), run by
the twin's Lambda runtime like any function. A test scripts what each function returns or
raises, starts an execution and reads where it went (the execution history) and what each
function was sent.

SageMaker requests go to moto through the twin (CreateModel, CreateEndpointConfig; PutMetricAlarm
to CloudWatch). The endpoint operations, which the twin's hosting would serve with real model
servers, are scripted per test by `endpoint`: CreateEndpoint/UpdateEndpoint record the request,
DescribeEndpoint answers the scripted statuses in turn.

The twin's internals this module reaches (the only ones in tests/workflows): LocalCloud.runtime
and FunctionSpec to register the stand-ins, LocalCloud.hosting for the scripted endpoint, and the
gateway's AwsError to answer an Invoke with a Lambda service error.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asl_model import ROOT, SUBSTITUTION, machines, template
from mlops_common.models import AcquireEndpointOutput

from mlops.twin.aws.responses import AwsError
from mlops.twin.cloud import LocalCloud
from mlops.twin.lambda_.function import FunctionSpec

STANDIN_CODE = Path(__file__).parent / "standin"
EXECUTION_TIMEOUT_S = 60
Script = dict[str, list[dict[str, Any]]]


@dataclass
class Run:
    execution: dict[str, Any]
    events: list[dict[str, Any]]
    calls: list[tuple[str, Any]]

    @property
    def status(self) -> str:
        return self.execution["status"]

    @property
    def error(self) -> str | None:
        return self.execution.get("error")

    @property
    def cause(self) -> str | None:
        return self.execution.get("cause")

    @property
    def path(self) -> list[str]:
        """States entered, in order (a Map's iterations included)."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.events
            if e["type"].endswith("StateEntered")
        ]

    def payloads(self, function: str) -> list[Any]:
        return [payload for name, payload in self.calls if name == function]

    def failures(self) -> list[str]:
        return [e["taskFailedEventDetails"]["error"] for e in self.events
                if e["type"] == "TaskFailed"]  # fmt: skip


@dataclass
class Endpoint:
    """Scripted SageMaker endpoint: DescribeEndpoint answers `statuses` in turn."""

    statuses: list[str]
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    describes: int = 0
    alarms_at_update: list[list[dict[str, Any]]] = field(default_factory=list)
    config: str | None = None

    def describe(self, name: str) -> dict[str, Any]:
        status = self.statuses[min(self.describes, len(self.statuses) - 1)]
        self.describes += 1
        now = datetime.now(UTC)
        return {
            "EndpointName": name,
            "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
            "EndpointConfigName": self.config,
            "EndpointStatus": status,
            "CreationTime": now,
            "LastModifiedTime": now,
        }


class Twin:
    def __init__(self, cloud: LocalCloud, folder: Path) -> None:
        self.cloud = cloud
        self.folder = folder
        self.sfn = cloud.client("stepfunctions")
        functions = {
            logical
            for machine in machines().values()
            for value in machine.substitutions.values()
            if isinstance(value, dict) and "Fn::GetAtt" in value
            for logical in [value["Fn::GetAtt"][0]]
        }
        self.arns = {logical: self._register(logical) for logical in sorted(functions)}
        self.machine_arns = {logical: self._create(logical) for logical in machines()}

    def _register(self, logical: str) -> str:
        name = f"standin-{logical}"
        arn = f"arn:aws:lambda:{self.cloud.region}:{self.cloud.account}:function:{name}"
        self.cloud.runtime.register(
            FunctionSpec(
                name=name,
                arn=arn,
                code_dir=STANDIN_CODE,
                handler="standin.handler",
                environment={"STANDIN_DIR": str(self.folder), "STANDIN_FUNCTION": logical},
                timeout_s=20,
                memory_mb=512,
                layer_dirs=(ROOT / "layers" / "common",),
            )
        )
        return arn

    def definition(self, logical: str) -> str:
        """The definition with its substitutions: stand-in ARNs, and 0 s endpoint polls."""
        machine = machines()[logical]
        values = {}
        for key, value in machine.substitutions.items():
            if "Fn::GetAtt" in value:
                values[key] = self.arns[value["Fn::GetAtt"][0]]
            else:
                assert template()["Parameters"][value["Ref"]]["Type"] == "Number", key
                values[key] = "0"
        raw = (ROOT / machine.uri).read_text(encoding="utf-8")
        return SUBSTITUTION.sub(lambda m: values[m.group(1)], raw)

    def _create(self, logical: str) -> str:
        return self.sfn.create_state_machine(
            name=logical,
            definition=self.definition(logical),
            roleArn=f"arn:aws:iam::{self.cloud.account}:role/{logical}Role",
        )["stateMachineArn"]

    def run(self, logical: str, execution_input: Any, script: Script) -> Run:
        (self.folder / "script.json").write_text(json.dumps(script))
        (self.folder / "calls.jsonl").write_text("")
        arn = self.sfn.start_execution(
            stateMachineArn=self.machine_arns[logical],
            name=f"{logical}-{uuid.uuid4().hex[:8]}",
            input=json.dumps(execution_input),
        )["executionArn"]
        deadline = time.monotonic() + EXECUTION_TIMEOUT_S
        while (execution := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{arn} still running"
            time.sleep(0.05)  # waiting for the end, not asserting on time
        events = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        lines = (self.folder / "calls.jsonl").read_text().splitlines()
        calls = [(c["function"], c["payload"]) for c in map(json.loads, lines)]
        return Run(execution, [e for page in events for e in page["events"]], calls)

    def endpoint(self, monkeypatch: pytest.MonkeyPatch, statuses: list[str]) -> Endpoint:
        scripted = Endpoint(statuses)
        cloudwatch = self.cloud.client("cloudwatch")

        def create(name: str, config: str, tags: Any = None) -> dict[str, Any]:
            scripted.requests.append(("CreateEndpoint", {"EndpointConfigName": config}))
            scripted.config = config
            return {"EndpointArn": scripted.describe(name)["EndpointArn"]}

        def update(
            name: str, config: str, deployment_config: Any = None, retain: bool = False, *_: Any
        ) -> dict:
            request = {"EndpointConfigName": config, "DeploymentConfig": deployment_config}
            request["RetainAllVariantProperties"] = retain
            scripted.requests.append(("UpdateEndpoint", request))
            scripted.alarms_at_update.append(cloudwatch.describe_alarms()["MetricAlarms"])
            scripted.config = config
            return {"EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}"}

        monkeypatch.setattr(self.cloud.hosting, "create_endpoint", create)
        monkeypatch.setattr(self.cloud.hosting, "update_endpoint", update)
        monkeypatch.setattr(self.cloud.hosting, "describe_endpoint", scripted.describe)
        return scripted

    def lambda_service_errors(self, monkeypatch: pytest.MonkeyPatch, logical: str, n: int) -> list:
        """The next `n` invocations of a function fail in the Lambda service, before reaching
        its code: the gateway answers Invoke with HTTP 500 ServiceException (botocore model
        lambda: Invoke, error ServiceException), with a request id as every answer has."""
        failed: list[str] = []
        invoke = self.cloud.runtime.invoke

        def flaky(name: str, payload: bytes, invocation_type: str = "RequestResponse") -> Any:
            if name == self.arns[logical] and len(failed) < n:
                failed.append(name)
                raise AwsError("Lambda was unable to run the function", "ServiceException", 500)
            return invoke(name, payload, invocation_type)

        monkeypatch.setattr(self.cloud.runtime, "invoke", flaky)
        return failed


def raises(error: str, message: str) -> dict[str, Any]:
    return {"raise": error, "message": message}


def returns(result: Any) -> dict[str, Any]:
    return {"return": result}


OTHER_HOLDER = "arn:aws:states:us-east-1:123456789012:execution:mlops-DeployPipeline:other"


def turn(acquired: bool, workflow: str = "deploy") -> dict[str, Any]:
    """AcquireEndpoint's answer: this execution's turn on the endpoint, or (not `acquired`)
    another execution, OTHER_HOLDER, holds the lock."""
    return returns(
        AcquireEndpointOutput(
            acquired=acquired,
            key="lock#endpoint#e",
            endpoint_name="e",
            holder="this execution" if acquired else OTHER_HOLDER,
            holder_workflow=workflow if acquired else "deploy",
            since="2026-03-02T10:00:00+00:00",
            reason="the endpoint was free" if acquired else f"waiting for a turn: {OTHER_HOLDER}",
        ).model_dump()
    )


def fresh(plan: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A sample plan whose model and endpoint config names are new to the twin's account
    (SageMaker rejects a second CreateModel of a name), with `changes` applied."""
    token = plan["model"]["ModelName"].rsplit("-", 1)[1]
    return json.loads(json.dumps(plan).replace(token, uuid.uuid4().hex[:8])) | changes


def sample(relative: str) -> Any:
    return json.loads((ROOT / "events" / relative).read_text(encoding="utf-8"))
