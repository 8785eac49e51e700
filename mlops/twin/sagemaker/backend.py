"""moto's SageMaker backend of one account and region: where the twin reads and completes
moto's records (model packages, jobs, endpoint configs, models). moto is imported on first use:
model servers import this package too, and must start fast."""

from __future__ import annotations

from typing import Any


def sagemaker_backend(account: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region]
