"""Handlers as Lambda runs them: environment from template.yaml, a cold import, moto behind.

Every handler file is named app.py, so each is imported from its path under a unique module
name (`handler_<function>`); a fresh import per test is a fresh cold start.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from mlops_common.adapters import client, resource

REPO_ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS_DIR = REPO_ROOT / "functions"
STATEMACHINES_DIR = REPO_ROOT / "statemachines"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK = "mlops"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

#: A test value for every variable the template may set; the template decides which are set.
ENV_VALUES: dict[str, str] = {
    "POWERTOOLS_SERVICE_NAME": "mlops-control-plane",
    "POWERTOOLS_METRICS_NAMESPACE": "MlopsControlPlane",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "LEDGER_TABLE": f"{STACK}-ledger",
    "MODEL_PACKAGE_GROUP": f"{STACK}-models",
    "DATA_BUCKET": f"{STACK}-data",
    "DATA_PREFIX": "datasets/",
    "CANDIDATES": "<template default>",
    "ARTIFACTS_BUCKET": f"{STACK}-artifacts",
    "CODE_VERSION": "v7",
    "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK}-sagemaker",
    "JOB_NAME_PREFIX": "mlops-0a1b2c3d",
    "TRAINING_IMAGE_URI": IMAGE,
    "TRAINING_INSTANCE_TYPE": "ml.m5.large",
    "PROCESSING_INSTANCE_TYPE": "ml.m5.large",
    "PRIMARY_METRIC": "f1",
    "MINIMUM_METRIC": "0.9",
    "IMPROVEMENT_MARGIN": "0.005",
    "AUTO_APPROVE": "false",
    "INFERENCE_IMAGE_URI": IMAGE,
    "INFERENCE_INSTANCE_TYPE": "ml.m5.large",
    "INFERENCE_INSTANCE_COUNT": "1",
    "ENDPOINT_NAME": f"{STACK}-endpoint",
    "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{STACK}-notifications",
    "DEPLOYMENT_STRATEGY": "CANARY",
    "CANARY_SIZE_PERCENT": "25",
    "LINEAR_STEP_PERCENT": "25",
    "BAKE_SECONDS": "300",
    "TERMINATION_WAIT_SECONDS": "120",
    "MAX_EXECUTION_TIMEOUT_SECONDS": "3600",
    "ERROR_ALARM_NAME": f"{STACK}-endpoint-5xx",
    "LATENCY_ALARM_NAME": f"{STACK}-new-fleet-latency",
    "LATENCY_THRESHOLD_US": "500000",
    "ALARM_PERIOD_SECONDS": "60",
    "ALARM_EVALUATION_PERIODS": "1",
    "SHADOW_MODE": "false",
    "SHADOW_WINDOW_SECONDS": "900",
    "SHADOW_MIN_REQUESTS": "100",
    "SHADOW_MAX_ERROR_RATE": "0.01",
    "SHADOW_MIN_AGREEMENT": "0.95",
    "SHADOW_MAX_LATENCY_RATIO": "1.5",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads template.yaml; intrinsic functions (!Ref, !Sub, ...) become placeholders."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, tag, node: f"<{tag}>")


@cache
def template() -> dict[str, Any]:
    return yaml.load((REPO_ROOT / "template.yaml").read_text(), Loader=_CloudFormationLoader)


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


def template_env_names(function: str) -> set[str]:
    """Environment variables template.yaml gives `function` (Globals included)."""
    names = set(template()["Globals"]["Function"]["Environment"]["Variables"])
    for resource_ in template()["Resources"].values():
        props = resource_.get("Properties", {})
        if (
            resource_["Type"] == "AWS::Serverless::Function"
            and props.get("CodeUri", "").rstrip("/") == f"functions/{function}"
        ):
            return names | set(props.get("Environment", {}).get("Variables", {}))
    raise LookupError(f"no function with CodeUri functions/{function}/ in template.yaml")


def template_candidates() -> str:
    """The CandidateConfigs parameter's default: what a stack deployed with defaults gets."""
    return template()["Parameters"]["CandidateConfigs"]["Default"]


def asl_paths(state_machine: str, prefix: str) -> set[str]:
    """Every JSONPath in the ASL under `prefix`, without the prefix ("$.plan.Payload." ...)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith(prefix):
            found.add(node[len(prefix) :])

    walk(json.loads((STATEMACHINES_DIR / f"{state_machine}.asl.json").read_text()))
    return found


def resolve(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.fixture
def asl_reads() -> Callable[..., set[str]]:
    """asl_reads(output, "deploy_pipeline", "$.plan.Payload.") asserts every path the state
    machine reads under the prefix exists in a handler's output, and returns those paths.
    `untaken=("shadow.endpoint_config.",)`: path prefixes only a branch this output does not
    take reads (a plan without a shadow test), left unchecked."""

    def check(
        output: dict[str, Any], state_machine: str, prefix: str, untaken: tuple[str, ...] = ()
    ) -> set[str]:
        paths = {p for p in asl_paths(state_machine, prefix) if not p.startswith(untaken)}
        assert paths, f"no {prefix}* path in {state_machine}"
        missing = set()
        for path in paths:
            try:
                resolve(output, path)
            except (KeyError, TypeError):
                missing.add(path)
        assert missing == set(), f"{state_machine} reads {sorted(missing)} the output lacks"
        return paths

    return check


@pytest.fixture
def load_handler(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """load_handler("validate_dataset", unset=("DATA_BUCKET",), AUTO_APPROVE="true")."""

    def load(function: str, unset: tuple[str, ...] = (), **overrides: str) -> ModuleType:
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        for name in template_env_names(function):
            value = template_candidates() if name == "CANDIDATES" else ENV_VALUES[name]
            monkeypatch.setenv(name, value)
        for name, value in overrides.items():
            monkeypatch.setenv(name, value)
        for name in unset:
            monkeypatch.delenv(name, raising=False)
        # Cold start: the shared logger/metrics/tracer and the cached clients are created anew.
        monkeypatch.delitem(sys.modules, "mlops_common.observability", raising=False)
        client.cache_clear()
        resource.cache_clear()
        path = FUNCTIONS_DIR / function / "app.py"
        spec = importlib.util.spec_from_file_location(f"handler_{function}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    yield load
    client.cache_clear()
    resource.cache_clear()


@dataclass
class Stack:
    """The stack's resources in moto, named as ENV_VALUES names them."""

    s3: Any
    sagemaker: Any
    dynamodb: Any
    sns: Any
    data_bucket: str = ENV_VALUES["DATA_BUCKET"]
    artifacts_bucket: str = ENV_VALUES["ARTIFACTS_BUCKET"]
    group: str = ENV_VALUES["MODEL_PACKAGE_GROUP"]

    def put(self, bucket: str, key: str, body: bytes) -> dict[str, str]:
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"version_id": response["VersionId"], "etag": response["ETag"].strip('"')}

    def create_package(
        self, status: str = "Approved", lineage: dict[str, str] | None = None
    ) -> str:
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": f"s3://{self.artifacts_bucket}/runs/r/models/j/output/model.tar.gz",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            **({"CustomerMetadataProperties": lineage} if lineage else {}),
        )["ModelPackageArn"]


@pytest.fixture
def stack(aws: Any) -> Iterator[Stack]:
    s3 = aws.client("s3")
    for bucket in (ENV_VALUES["DATA_BUCKET"], ENV_VALUES["ARTIFACTS_BUCKET"]):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    dynamodb = aws.resource("dynamodb")
    dynamodb.create_table(
        TableName=ENV_VALUES["LEDGER_TABLE"],
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=ENV_VALUES["MODEL_PACKAGE_GROUP"])
    sns = aws.client("sns")
    sns.create_topic(Name=ENV_VALUES["TOPIC_ARN"].rsplit(":", 1)[1])
    yield Stack(s3=s3, sagemaker=sagemaker, dynamodb=dynamodb, sns=sns)


def execution_context(name: str, state_machine: str = "train") -> dict[str, Any]:
    """`$$.Execution` as Step Functions passes it (more fields than a function reads)."""
    return {
        "Id": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{state_machine}:{name}",
        "Input": {},
        "Name": name,
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/sfn",
        "StartTime": "2026-01-01T00:00:00.000Z",
        "RedriveCount": 0,
    }


@pytest.fixture
def sfn_execution() -> Callable[..., dict[str, Any]]:
    return execution_context
