"""Reading and making model versions in a twin stack, for the deployment e2e tests: which
version the endpoint serves, a package by version, and a good version deployed."""

from __future__ import annotations

from typing import Any

from mlops.demo.scenarios import register_version

TRAINED = 1  # the version a fixture's first upload trained: a good model, every copy serves well


def live_config(h: Any) -> str:
    return h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])[
        "EndpointConfigName"
    ]


def live_version(h: Any) -> int:
    return int(live_config(h).rsplit("-v", 1)[1].split("-")[0])


def version_of(package_arn: str) -> int:
    return int(package_arn.rsplit("/", 1)[1])


def package_arn(h: Any, version: int) -> str:
    return next(
        p["ModelPackageArn"] for p in h.model_packages() if p["ModelPackageVersion"] == version
    )


def approval(h: Any, version: int) -> dict[str, Any]:
    return h.client("sagemaker").describe_model_package(ModelPackageName=package_arn(h, version))


def deploy_good(h: Any) -> tuple[int, list]:
    """Registers the trained model again (Approved) and waits until it is live."""
    before = set(h.watcher.executions)
    version = version_of(register_version(h.twin, package_arn(h, TRAINED)))
    runs = h.settle(before)
    assert live_version(h) == version, "\n".join(h.why(v) for v in runs)
    return version, runs
