"""An offline AWS world (moto) with the stack's buckets, ledger table and model package group.

Domain tests receive `world`, whose builders create the resources and payloads a case needs,
so each test reads as Given (world.*) / When (domain call) / Then (asserts). `endpoint` answers
DescribeEndpoint through botocore's Stubber: moto's endpoints are InService at once and cannot be
Updating or rolled back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.adapters.ledger import Ledger
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.adapters.s3 import S3Store
from mlops_common.models import Candidate, Execution
from mlops_common.settings import ValidateDatasetSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
BREAST_CANCER_CSV = REPO_ROOT / "ml" / "data" / "breast_cancer.csv"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
ENDPOINT = "mlops-endpoint"
ENDPOINT_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CANDIDATES = [
    {
        "name": "rf",
        "algorithm": "random_forest",
        "hyperparameters": {"n_estimators": 100, "max_depth": 6},
    },
    {"name": "logreg", "algorithm": "logistic_regression", "hyperparameters": {"c": 1.0}},
]


@dataclass
class World:
    s3: Any
    sagemaker: Any
    table: Any  # the ledger's DynamoDB Table resource
    data_bucket: str = "mlops-data"
    artifacts_bucket: str = "mlops-artifacts"
    data_prefix: str = "datasets/"
    group: str = "mlops-models"
    image: str = IMAGE
    candidates: list[dict[str, Any]] = field(default_factory=lambda: list(CANDIDATES))
    #: How executions ended, by ARN; an execution not named here is still RUNNING.
    ended: dict[str, str | None] = field(default_factory=dict)

    # ---- adapters over the world
    def executions(self) -> Any:
        """The Executions adapter's one read (DescribeExecution's status) over `ended`."""
        world = self

        class Statuses:
            def status(self, arn: str) -> str | None:
                return world.ended.get(arn, "RUNNING")

        return Statuses()

    def store(self) -> S3Store:
        return S3Store(self.s3)

    def registry(self, group: str | None = None) -> ModelRegistry:
        return ModelRegistry(self.sagemaker, group or self.group)

    def ledger(self) -> Ledger:
        return Ledger(self.table)

    def validate_settings(self, **overrides: Any) -> ValidateDatasetSettings:
        values = {
            "ledger_table": self.table.name,
            "data_bucket": self.data_bucket,
            "data_prefix": self.data_prefix,
            "artifacts_bucket": self.artifacts_bucket,
            "model_package_group": self.group,
            "candidates": self.candidates,
        } | overrides
        return ValidateDatasetSettings(**values)

    # ---- resources
    def put_object(self, bucket: str, key: str, body: bytes) -> dict[str, Any]:
        """Returns version_id and etag (unquoted) of the new object version."""
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"version_id": response.get("VersionId"), "etag": response["ETag"].strip('"')}

    def read(self, uri: str, version_id: str | None = None) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        extra = {"VersionId": version_id} if version_id else {}
        return self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return sorted(obj["Key"] for obj in listed)

    def dataset_bytes(self) -> bytes:
        return BREAST_CANCER_CSV.read_bytes()

    def put_dataset(
        self, key: str = "datasets/breast_cancer.csv", body: bytes | None = None
    ) -> dict[str, Any]:
        return self.put_object(
            self.data_bucket, key, self.dataset_bytes() if body is None else body
        )

    @property
    def model_data_url(self) -> str:
        return f"s3://{self.artifacts_bucket}/runs/seed/models/job/output/model.tar.gz"

    @property
    def code_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/code/v7/sourcedir.tar.gz"

    def put_uri(self, uri: str, body: bytes) -> str:
        """Writes `body` at an s3:// URI; returns its SHA-256 (hex)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return hashlib.sha256(body).hexdigest()

    def create_package(
        self,
        status: str = "Approved",
        model_data_url: str | None = None,
        lineage: dict[str, str] | None = None,
        group: str | None = None,
        provenance: bool = True,
    ) -> str:
        """A package as RegisterModel creates it: model data and code of this stack, their
        SHA-256 recorded in the lineage (`provenance=False`: nothing recorded, and the S3
        objects left as they are)."""
        model_data_url = model_data_url or self.model_data_url
        recorded: dict[str, str] = {}
        if provenance:
            recorded = {
                "model_sha256": self.put_uri(model_data_url, f"model {model_data_url}".encode()),
                "code_sha256": self.put_uri(self.code_uri, b"code v7"),
            }
        request: dict[str, Any] = {
            "ModelPackageGroupName": group or self.group,
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": self.image,
                        "ModelDataUrl": model_data_url,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": self.code_uri,
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        }
        if recorded or lineage:
            request["CustomerMetadataProperties"] = recorded | (lineage or {})
        return self.sagemaker.create_model_package(**request)["ModelPackageArn"]

    # ---- events
    def s3_event(
        self,
        key: str,
        version_id: str | None,
        etag: str,
        bucket: str | None = None,
        size: int = 120384,
    ) -> dict[str, Any]:
        """An `aws.s3` `Object Created` event as EventBridge delivers it."""
        obj: dict[str, Any] = {
            "key": key,
            "size": size,
            "etag": etag,
            "sequencer": "0066A8D0E77DE42BC5",
        }
        if version_id is not None:
            obj["version-id"] = version_id
        return {
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT_ID,
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "resources": [f"arn:aws:s3:::{bucket or self.data_bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket or self.data_bucket},
                "object": obj,
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": ACCOUNT_ID,
                "reason": "PutObject",
            },
        }

    def package_event(
        self, arn: str, version: int, status: str = "Approved", group: str | None = None
    ) -> dict[str, Any]:
        """An `aws.sagemaker` `SageMaker Model Package State Change` event."""
        return {
            "version": "0",
            "id": "a1b2c3d4-0000-4000-8000-000000000001",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT_ID,
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "ModelPackageGroupName": group or self.group,
                "ModelPackageVersion": version,
                "ModelPackageArn": arn,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": status,
                "LastModifiedTime": 1767225600000,
            },
        }


def execution(name: str = "run-0001") -> Execution:
    return Execution(Name=name, Id=f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:train:{name}")


@pytest.fixture
def make_execution() -> Any:
    """make_execution("run-a") -> the `$$.Execution` subset a function receives."""
    return execution


@pytest.fixture
def candidates() -> list[Candidate]:
    return [Candidate.model_validate(c) for c in CANDIDATES]


@pytest.fixture
def world(aws: Any, ledger_table: Any) -> World:
    s3 = aws.client("s3")
    for bucket in ("mlops-data", "mlops-artifacts"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="mlops-models")
    return World(s3=s3, sagemaker=sagemaker, table=ledger_table)


# ---- DescribeEndpoint through Stubber --------------------------------------------------------


def describe_endpoint_response(
    status: str,
    config: str,
    reason: str | None = None,
    last_modified: datetime = ENDPOINT_CREATED,
    pending: str | None = None,
) -> dict[str, Any]:
    """`pending`: the config an update in progress rolls out (PendingDeploymentSummary)."""
    response: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": config,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{ENDPOINT}",
        "EndpointStatus": status,
        "CreationTime": ENDPOINT_CREATED,
        "LastModifiedTime": last_modified,
    }
    if pending:
        response["PendingDeploymentSummary"] = {
            "EndpointConfigName": pending,
            "StartTime": last_modified,
        }
    return response | ({"FailureReason": reason} if reason else {})


def describe_endpoint_config_response(
    config: str, variants: list[dict[str, Any]], shadow: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "EndpointConfigName": config,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint-config/{config}",
        "ProductionVariants": variants,
        "CreationTime": ENDPOINT_CREATED,
    }
    return response | ({"ShadowProductionVariants": shadow} if shadow else {})


class StubbedEndpoint:
    """DescribeEndpoint answers for the Endpoints adapter on a SageMaker client of its own.

    Any call nothing was queued for fails with botocore's UnStubbedResponseError, so a client
    with an empty queue also proves a code path made no SageMaker call at all.
    """

    def __init__(self) -> None:
        self.client = boto3.client("sagemaker")
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def absent(self) -> Endpoints:
        self.stubber.add_client_error(
            "describe_endpoint",
            service_error_code="ValidationException",
            service_message=f"Could not find endpoint '{ENDPOINT}'.",
            http_status_code=400,
            expected_params={"EndpointName": ENDPOINT},
        )
        return Endpoints(self.client)

    def present(
        self,
        status: str,
        config: str,
        reason: str | None = None,
        last_modified: datetime = ENDPOINT_CREATED,
        pending: str | None = None,
    ) -> Endpoints:
        response = describe_endpoint_response(status, config, reason, last_modified, pending)
        self.stubber.add_response("describe_endpoint", response, {"EndpointName": ENDPOINT})
        return Endpoints(self.client)

    def config(
        self,
        config: str,
        variants: list[dict[str, Any]],
        shadow: list[dict[str, Any]] | None = None,
    ) -> Endpoints:
        """Queues DescribeEndpointConfig of `config` (after any DescribeEndpoint queued)."""
        response = describe_endpoint_config_response(config, variants, shadow)
        self.stubber.add_response(
            "describe_endpoint_config", response, {"EndpointConfigName": config}
        )
        return Endpoints(self.client)

    def untouched(self) -> Endpoints:
        """Endpoints over a client that must not be called."""
        return Endpoints(self.client)


@pytest.fixture
def endpoint(world: World) -> Iterator[StubbedEndpoint]:
    stub = StubbedEndpoint()
    yield stub
    stub.stubber.assert_no_pending_responses()
    stub.stubber.deactivate()


@pytest.fixture
def endpoint_response() -> Callable[..., dict[str, Any]]:
    """endpoint_response("InService", config, reason=None, last_modified=...): a DescribeEndpoint
    response as boto3 returns it (what VerifyDeployment receives, timestamps aside)."""
    return describe_endpoint_response
