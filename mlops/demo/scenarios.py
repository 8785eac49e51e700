"""Building blocks of the guarded-deployment scenarios: a deliberately faulty model version,
an operator-style registration, and a client sending steady traffic while a rollout runs."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.code_package import publish_code, published_manifest
from mlops.twin.stack import TwinStack

# Appended to a copy of ml/inference.py: after `healthy_calls` good answers, every other
# prediction fails, as a model with a bad dependency or an input it cannot handle would. A
# latent fault (healthy_calls > 0) passes a quiet rollout and shows under real traffic.
_FAULT = """

# --- injected by mlops.demo.scenarios: a deliberately faulty model version ---
import itertools as _itertools

_calls = _itertools.count()
_working_predict_fn = predict_fn


def predict_fn(data, model):
    call = next(_calls)
    if call >= {healthy_calls} and call % 2 == 0:
        raise RuntimeError("simulated fault: this model version fails half of its requests")
    return _working_predict_fn(data, model)
"""


def publish_faulty_code(
    twin: TwinStack, version: str, workdir: Path, healthy_calls: int = 0
) -> str:
    """Publishes ml/ with a faulty inference.py as code `version`; returns its sourcedir URI."""
    faulty = workdir / f"ml-{version}"
    shutil.copytree(twin.root / "ml", faulty, ignore=shutil.ignore_patterns("data", "__pycache__"))
    with (faulty / "inference.py").open("a") as handle:
        handle.write(_FAULT.replace("{healthy_calls}", str(healthy_calls)))
    return next(
        uri
        for uri in publish_code(
            twin.client("s3"), twin.outputs["ArtifactsBucketName"], version, faulty
        )
        if uri.endswith(".tar.gz")
    )


def register_version(
    twin: TwinStack,
    like_arn: str,
    sourcedir_uri: str | None = None,
    status: str = "Approved",
    note: str = "registered by an operator",
) -> str:
    """Registers the model of `like_arn` again (optionally with other serving code, a
    published code version), as an operator would with CreateModelPackage, recording the
    code's SHA-256 as RegisterModel does; with `Approved` it starts the DeployPipeline."""
    sagemaker = twin.client("sagemaker")
    like = sagemaker.describe_model_package(ModelPackageName=like_arn)
    container = dict(like["InferenceSpecification"]["Containers"][0])
    lineage = like.get("CustomerMetadataProperties", {}) | {"candidate": "operator"}
    if sourcedir_uri:
        container["Environment"] = container["Environment"] | {
            "SAGEMAKER_SUBMIT_DIRECTORY": sourcedir_uri
        }
        bucket, _, key = sourcedir_uri.removeprefix("s3://").partition("/")
        version = key.split("/")[1]  # code/<version>/sourcedir.tar.gz
        manifest = published_manifest(twin.client("s3"), bucket, version) or {}
        lineage |= {"code_version": version, "code_sha256": manifest["sha256"]}
    return sagemaker.create_model_package(
        ModelPackageGroupName=twin.outputs["ModelPackageGroupName"],
        ModelPackageDescription=note,
        ModelApprovalStatus=status,
        InferenceSpecification=like["InferenceSpecification"] | {"Containers": [container]},
        CustomerMetadataProperties=lineage,
    )["ModelPackageArn"]


@dataclass
class TrafficReport:
    sent: int = 0
    errors: int = 0
    first_error: float | None = None
    last_error: float | None = None
    timeline: list[tuple[float, str, str]] = field(default_factory=list)  # (t, status, config)

    def when(self, predicate: Any) -> float | None:
        return next((t for t, status, config in self.timeline if predicate(status, config)), None)


class TrafficClient:
    """Invokes the endpoint every `interval` seconds with real rows, and records every answer
    and every endpoint status change. Bounded: it stops itself after `max_seconds`."""

    def __init__(
        self, twin: TwinStack, body: bytes, interval: float = 0.05, max_seconds: float = 180.0
    ) -> None:
        self._twin, self._body, self._interval = twin, body, interval
        self._max_seconds = max_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.report = TrafficReport()
        self.t0 = time.monotonic()

    def start(self) -> TrafficClient:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> TrafficReport:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.report

    def _run(self) -> None:
        runtime = self._twin.client("sagemaker-runtime")
        sagemaker = self._twin.client("sagemaker")
        name = self._twin.outputs["EndpointName"]
        last = None
        for tick in itertools.count():
            now = time.monotonic() - self.t0
            if self._stop.is_set() or now > self._max_seconds:
                return
            if tick % 5 == 0:
                endpoint = sagemaker.describe_endpoint(EndpointName=name)
                state = (endpoint["EndpointStatus"], endpoint["EndpointConfigName"])
                if state != last:
                    self.report.timeline.append((now, *state))
                    last = state
            self.report.sent += 1
            try:
                response = runtime.invoke_endpoint(
                    EndpointName=name,
                    ContentType="text/csv",
                    Accept="application/json",
                    Body=self._body,
                )
                json.loads(response["Body"].read())["predictions"]
            except runtime.exceptions.ClientError:
                self.report.errors += 1
                self.report.first_error = self.report.first_error or now
                self.report.last_error = now
            self._stop.wait(self._interval)
