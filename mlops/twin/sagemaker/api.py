"""The Model Registry operations the twin adds to moto's answers: each CreateModelPackage and
UpdateModelPackage emits the package's state-change event. (Jobs and endpoints report their
own changes: jobs/api.py, hosting/api.py.)"""

from __future__ import annotations

from mlops.twin.gateway import Gateway
from mlops.twin.sagemaker.events import SageMakerEvents


def connect(gateway: Gateway, events: SageMakerEvents) -> None:
    for operation in ("CreateModelPackage", "UpdateModelPackage"):
        gateway.after_target(f"SageMaker.{operation}", events.package_changed)
