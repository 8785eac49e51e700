"""Handlers as Lambda runs them: environment from template.yaml, a cold import, moto behind.

Every handler file is named app.py, so each is imported from its path under a unique module
name (`handler_<function>`); a fresh import per test is a fresh cold start. Payloads are the
samples in events/functions/ (what each ASL task sends), changed field by field with `sample`.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
    "LABEL_COLUMN": "malignant",
    "PROBLEM_TYPE": "binary_classification",
    "POSITIVE_LABEL": "1",
    "MAX_CLASSES": "20",
    "DATA_BUCKET": f"{STACK}-data",
    "DATA_PREFIX": "datasets/",
    "CANDIDATES": "<template default>",
    "ARTIFACTS_BUCKET": f"{STACK}-artifacts",
    "CODE_VERSION": "v7",
    "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK}-sagemaker",
    "JOB_NAME_PREFIX": "mlops-0a1b2c3d",
    "TRAINING_IMAGE_URI": IMAGE,
    "TRAINING_INSTANCE_TYPE": "ml.m5.large",
    "SPOT_TRAINING": "false",
    "SPOT_MAX_WAIT_SECONDS": "7200",
    "MAX_RUNTIME_SECONDS": "3600",
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
    "AB_TEST_MODE": "false",
    "AB_CANDIDATE_WEIGHT_PERCENT": "10",
    "AB_WINDOW_SECONDS": "3600",
    "AB_MIN_REQUESTS": "100",
    "AB_MAX_ERROR_RATE_INCREASE": "0.01",
    "AB_MAX_LATENCY_RATIO": "1.5",
    "AB_MIN_QUALITY_DIFFERENCE": "0",
    "DATA_CAPTURE_PERCENT": "20",
    "AUTO_SCALING": "true",
    "AUTO_SCALING_MIN_INSTANCES": "1",
    "AUTO_SCALING_MAX_INSTANCES": "3",
    "AUTO_SCALING_TARGET_INVOCATIONS": "100",
    "AUTO_SCALING_SCALE_OUT_COOLDOWN": "60",
    "AUTO_SCALING_SCALE_IN_COOLDOWN": "300",
    "EVENT_BUS_NAME": f"{STACK}-bus",
    "METRICS_NAMESPACE": f"MLOps/{STACK}/Drift",
    "DRIFT_MINIMUM_ROWS": "200",
    "DRIFT_PSI_THRESHOLD": "0.25",
    "DRIFT_KS_THRESHOLD": "0.2",
    "QUIET_WINDOW_SECONDS": "60",
    "TRAINING_PIPELINE_ARN": (
        f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{STACK}-TrainingPipeline"
    ),
    "SCHEDULE_GROUP": f"{STACK}-uploads",
    "SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK}-upload-scheduler",
    "DEAD_LETTER_QUEUE_ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{STACK}-dlq",
}


def template_env_names(template: dict[str, Any], function: str) -> set[str]:
    """Environment variables template.yaml gives `function` (Globals included)."""
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource_ in template["Resources"].values():
        props = resource_.get("Properties", {})
        if (
            resource_["Type"] == "AWS::Serverless::Function"
            and props.get("CodeUri", "").rstrip("/") == f"functions/{function}"
        ):
            return names | set(props.get("Environment", {}).get("Variables", {}))
    raise LookupError(f"no function with CodeUri functions/{function}/ in template.yaml")


def template_candidates(template: dict[str, Any]) -> str:
    """The CandidateConfigs parameter's default: what a stack deployed with defaults gets."""
    return template["Parameters"]["CandidateConfigs"]["Default"]


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
def load_handler(
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    template: dict[str, Any],
    cold_start: Any,
) -> Callable[..., ModuleType]:
    """load_handler("validate_dataset", unset=("DATA_BUCKET",), AUTO_APPROVE="true").

    Call it in the test itself, not in a fixture: the logger writes to the sys.stdout of its
    cold start, and the one pytest captures while fixtures are set up is not the one `printed`
    reads during the test."""

    def load(function: str, unset: tuple[str, ...] = (), **overrides: str) -> ModuleType:
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        for name in template_env_names(template, function):
            value = template_candidates(template) if name == "CANDIDATES" else ENV_VALUES[name]
            monkeypatch.setenv(name, value)
        for name, value in overrides.items():
            monkeypatch.setenv(name, value)
        for name in unset:
            monkeypatch.delenv(name, raising=False)
        cold_start()
        path = FUNCTIONS_DIR / function / "app.py"
        spec = importlib.util.spec_from_file_location(f"handler_{function}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def with_fields(document: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `document` with each dotted path set ("event.detail.object.key"; a
    number indexes a list: "results.1.report_uri"). Every path must exist but the last key."""
    changed = copy.deepcopy(document)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node: Any = changed
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return changed


@pytest.fixture
def sample(load_event: Callable[[str], Any]) -> Callable[..., dict[str, Any]]:
    """sample("validate_dataset", {"execution": ...}) is events/functions/validate_dataset.json
    with those fields changed (see with_fields)."""

    def load(function: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        return with_fields(load_event(f"functions/{function}"), changes or {})

    return load


@dataclass
class Printed:
    logs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]

    def correlation_ids(self) -> set[str | None]:
        return {line.get("correlation_id") for line in self.logs}


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str]) -> Callable[[], Printed]:
    """printed() -> what handlers printed since the last call: structured log lines, and metrics
    in CloudWatch embedded metric format (the documents with an "_aws" key)."""

    def read() -> Printed:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return Printed(
            logs=[line for line in lines if "_aws" not in line],
            metrics=[line for line in lines if "_aws" in line],
        )

    return read


@dataclass
class Stack:
    """The stack's resources in moto, named as ENV_VALUES names them."""

    s3: Any
    sagemaker: Any
    ledger: Any  # the DynamoDB Table resource
    sns: Any
    data_bucket: str = ENV_VALUES["DATA_BUCKET"]
    artifacts_bucket: str = ENV_VALUES["ARTIFACTS_BUCKET"]
    group: str = ENV_VALUES["MODEL_PACKAGE_GROUP"]

    def put(self, bucket: str, key: str, body: bytes) -> dict[str, str]:
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"version_id": response["VersionId"], "etag": response["ETag"].strip('"')}

    @property
    def model_data_url(self) -> str:
        return f"s3://{self.artifacts_bucket}/runs/r/models/j/output/model.tar.gz"

    @property
    def code_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/code/{ENV_VALUES['CODE_VERSION']}/sourcedir.tar.gz"

    def put_uri(self, uri: str, body: bytes) -> str:
        """Writes `body` at an s3:// URI; returns its SHA-256 (hex)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return hashlib.sha256(body).hexdigest()

    def create_package(
        self, status: str = "Approved", lineage: dict[str, str] | None = None
    ) -> str:
        """A package as RegisterModel creates it: model and code of this stack in S3, their
        SHA-256 in the lineage (PlanDeployment and PlanRollback check them)."""
        provenance = {
            "model_sha256": self.put_uri(self.model_data_url, b"model"),
            "code_sha256": self.put_uri(self.code_uri, b"code"),
        }
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": self.model_data_url,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": self.code_uri,
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties=provenance | (lineage or {}),
        )["ModelPackageArn"]


@pytest.fixture
def stack(aws: Any, ledger_table: Any) -> Stack:
    assert ledger_table.name == ENV_VALUES["LEDGER_TABLE"]
    s3 = aws.client("s3")
    for bucket in (ENV_VALUES["DATA_BUCKET"], ENV_VALUES["ARTIFACTS_BUCKET"]):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=ENV_VALUES["MODEL_PACKAGE_GROUP"])
    sns = aws.client("sns")
    sns.create_topic(Name=ENV_VALUES["TOPIC_ARN"].rsplit(":", 1)[1])
    return Stack(s3=s3, sagemaker=sagemaker, ledger=ledger_table, sns=sns)


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
