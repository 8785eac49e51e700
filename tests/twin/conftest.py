"""Scaffolding every twin test module shares: one moto server (or one whole local cloud) per
module, and the hosting world (model artefacts in moto's S3, models and endpoint configs made
through moto's SageMaker API) both hosting modules drive `Hosting` against."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mlops.twin.cloud import LocalCloud
from mlops.twin.sagemaker.hosting import Hosting, keep_shadow_variants

ACCOUNT, REGION = "123456789012", "us-east-1"
FIXTURES = Path(__file__).parent / "fixtures"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
MODEL_SERVER = "mlops.twin.sagemaker.hosting.model_server"
ServerPids = Callable[[Path], list[int]]


@dataclass(frozen=True)
class MotoServer:
    """moto in server mode on 127.0.0.1, as the twin runs it, without the twin's seams."""

    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def reset(self) -> None:
        """An empty account again (moto's backends are process-wide)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", b"", method="POST")
        urllib.request.urlopen(request).close()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    moto = MotoServer(f"http://127.0.0.1:{server.get_host_and_port()[1]}")
    moto.reset()  # whatever an earlier module left in the process-wide backends
    try:
        yield moto
    finally:
        moto.reset()
        server.stop()


@pytest.fixture(scope="module")
def local_cloud() -> Iterator[LocalCloud]:
    """The whole local cloud: moto behind the gateway, every seam installed."""
    with LocalCloud() as cloud:
        yield cloud


# -- hosting ------------------------------------------------------------------------------------


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# model key -> (model.json, source dir under fixtures/hosting, SAGEMAKER_PROGRAM). The fixture
# inference code answers {"version", "value" * scale}; `broken` fails in model_fn; `slow` takes
# 2 s to load; `defaults` relies on the container's default handlers (it sums CSV rows).
HOSTED_MODELS: dict[str, tuple[dict[str, Any], str, str]] = {
    "blue": ({"version": "blue", "scale": 1}, "code", "inference.py"),
    "green": ({"version": "green", "scale": 10}, "code", "inference.py"),
    "broken": ({"version": "broken", "scale": 1, "fail_load": True}, "code", "inference.py"),
    "slow": ({"version": "slow", "scale": 1, "load_seconds": 2.0}, "code", "inference.py"),
    "defaults": ({}, "code_defaults", "serve.py"),
}


@dataclass
class HostingWorld:
    """What the DeployPipeline would have created before calling Hosting: artefacts in S3, a
    model per call, endpoint configs completed by the gateway's after-hook."""

    moto: MotoServer
    bucket: str = "hosting-artifacts"
    capture_bucket: str = "capture-data"
    image: str = SKLEARN_IMAGE
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # config name -> request

    def __post_init__(self) -> None:
        self.s3, self.sagemaker = self.moto.client("s3"), self.moto.client("sagemaker")

    def upload_artefacts(self) -> None:
        for bucket in (self.bucket, self.capture_bucket):
            self.s3.create_bucket(Bucket=bucket)
        for directory in ("code", "code_defaults"):
            sources = (FIXTURES / "hosting" / directory).glob("*.py")
            body = tarball({p.name: p.read_bytes() for p in sources})
            key = f"code/{directory}/sourcedir.tar.gz"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        for key, (model_json, _, _) in HOSTED_MODELS.items():
            body = tarball({"model.json": json.dumps(model_json).encode()})
            self.s3.put_object(Bucket=self.bucket, Key=f"models/{key}/model.tar.gz", Body=body)

    def s3_factory(self) -> Any:
        return self.moto.client("s3")

    def model(self, key: str) -> str:
        """A moto model serving HOSTED_MODELS[key] (unique name per call)."""
        name = f"{key}-{uuid.uuid4().hex[:8]}"
        _, code_dir, program = HOSTED_MODELS[key]
        self.sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
            PrimaryContainer={
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": f"s3://{self.bucket}/models/{key}/model.tar.gz",
                "Environment": {
                    "SAGEMAKER_PROGRAM": program,
                    "SAGEMAKER_SUBMIT_DIRECTORY": (
                        f"s3://{self.bucket}/code/{code_dir}/sourcedir.tar.gz"
                    ),
                    "SAGEMAKER_REGION": REGION,
                },
            },
        )
        return name

    def variant(self, name: str, key: str, weight: float = 1.0, count: int = 1) -> dict:
        return {
            "VariantName": name,
            "ModelName": self.model(key),
            "InitialInstanceCount": count,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": weight,
        }

    def config(
        self, *variants: tuple[Any, ...], shadow: str | None = None, capture: dict | None = None
    ) -> str:
        """CreateEndpointConfig through moto from (variant name, model key[, weight, count])
        tuples, then the gateway's after-hook; returns the config name."""
        request: dict[str, Any] = {
            "EndpointConfigName": f"cfg-{uuid.uuid4().hex[:8]}",
            "ProductionVariants": [self.variant(*v) for v in variants],
        }
        if shadow:
            request["ShadowProductionVariants"] = [self.variant("Shadow", shadow)]
        if capture:
            request["DataCaptureConfig"] = capture
        self.sagemaker.create_endpoint_config(**request)
        keep_shadow_variants(ACCOUNT, REGION, request)
        self.requests[request["EndpointConfigName"]] = request
        return request["EndpointConfigName"]

    @contextmanager
    def hosting(self, root: Path, **hooks: Any) -> Iterator[Hosting]:
        """A Hosting seam on this world (a fast clock, seeded routing) working under `root`,
        with the listeners given; no model server may outlive it."""
        with Hosting(
            ACCOUNT,
            REGION,
            self.s3_factory,
            root / "work",
            base_env={"AWS_ENDPOINT_URL": self.moto.url, "AWS_DEFAULT_REGION": REGION},
            time_scale=0.001,
            rng_seed=7,
            startup_timeout=60,
            **hooks,
        ) as hosting:
            yield hosting
        assert model_server_pids(root) == [], "model servers outlived Hosting.uninstall()"

    def captured(self, prefix: str) -> dict[str, list[str]]:
        """S3 key -> JSON lines under s3://<capture bucket>/<prefix>/."""
        listed = self.s3.list_objects_v2(Bucket=self.capture_bucket, Prefix=prefix + "/")
        return {
            item["Key"]: self.s3.get_object(Bucket=self.capture_bucket, Key=item["Key"])["Body"]
            .read()
            .decode()
            .splitlines()
            for item in listed.get("Contents", [])
        }


@pytest.fixture
def hosting_world() -> type[HostingWorld]:
    """HostingWorld itself, to build one on another cloud (a LocalCloud has the client factory
    and URL it needs)."""
    return HostingWorld


@pytest.fixture(scope="module")
def world(moto_server: MotoServer) -> HostingWorld:
    """The hosting world of this module (artefacts uploaded once)."""
    world = HostingWorld(moto_server)
    world.upload_artefacts()
    return world


def model_server_pids(root: Path) -> list[int]:
    """Live model servers whose command line mentions `root` (Linux /proc)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except (OSError, IndexError):
            continue
        if MODEL_SERVER in cmdline and str(root) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def model_servers() -> ServerPids:
    """model_servers(root): pids of live model servers whose command line mentions `root`."""
    return model_server_pids
