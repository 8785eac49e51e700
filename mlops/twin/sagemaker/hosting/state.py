"""One endpoint's state and its DescribeEndpoint / ListEndpoints shapes.

Shapes from botocore sagemaker service-2.json: DescribeEndpointOutput,
ProductionVariantSummary, PendingDeploymentSummary, PendingProductionVariantSummary,
ProductionVariantStatus (Creating | Updating | Deleting | ActivatingTraffic | Baking),
EndpointSummary. PendingDeploymentSummary is present only while creating or updating;
DataCaptureConfig (DataCaptureConfigSummary) only when the serving config captures data.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops.twin.aws.timestamps import utcnow
from mlops.twin.sagemaker.hosting.fleet import Fleet
from mlops.twin.sagemaker.hosting.moto_store import EndpointConfigSpec, VariantSpec


@dataclass
class PendingDeployment:
    """The config being rolled out and each of its variants' current step."""

    config: EndpointConfigSpec
    start_time: datetime = field(default_factory=utcnow)
    statuses: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)

    def set_status(self, status: str, message: str) -> None:
        now = utcnow()
        for variant in [*self.config.variants, *self.config.shadow_variants]:
            self.statuses[variant.name] = (status, message, now)


@dataclass
class Endpoint:
    name: str
    arn: str
    config_name: str
    tags: list[dict[str, str]]
    status: str = "Creating"
    failure_reason: str | None = None
    blue: Fleet | None = None  # the fleet of config_name, serving traffic
    green: Fleet | None = None  # the fleet being deployed
    green_share: float = 0.0  # fraction of traffic routed to green
    pending: PendingDeployment | None = None
    last_deployment_config: dict[str, Any] | None = None
    creation_time: datetime = field(default_factory=utcnow)
    last_modified_time: datetime = field(default_factory=utcnow)
    cancel: threading.Event = field(default_factory=threading.Event)
    worker: threading.Thread | None = None

    def touch(self, status: str | None = None) -> None:
        if status is not None:
            self.status = status
        self.last_modified_time = utcnow()

    def fleets(self) -> list[Fleet]:
        return [f for f in (self.blue, self.green) if f is not None]

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "EndpointStatus": self.status,
        }

    def _pending_variant(self, variant: VariantSpec, share: float) -> dict[str, Any]:
        assert self.pending is not None
        item = variant.summary(self.pending.start_time)
        item["CurrentWeight"] = round(variant.desired_weight * share, 6)
        item["InstanceType"] = variant.instance_type
        status = self.pending.statuses.get(variant.name)
        if status is not None:
            item["VariantStatus"] = [
                {"Status": status[0], "StatusMessage": status[1], "StartTime": status[2]}
            ]
        return {k: v for k, v in item.items() if v is not None}

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "EndpointStatus": self.status,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        if self.blue is not None:
            out["ProductionVariants"] = [
                v.summary(self.creation_time) for v in self.blue.config.variants
            ]
            if self.blue.config.shadow_variants:
                out["ShadowProductionVariants"] = [
                    v.summary(self.creation_time) for v in self.blue.config.shadow_variants
                ]
            if self.blue.config.data_capture is not None:
                out["DataCaptureConfig"] = self.blue.config.data_capture.summary()
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.last_deployment_config:
            out["LastDeploymentConfig"] = copy.deepcopy(self.last_deployment_config)
        if self.pending is not None:
            config = self.pending.config
            share = self.green_share if self.blue is not None else 0.0
            summary: dict[str, Any] = {
                "EndpointConfigName": config.name,
                "ProductionVariants": [self._pending_variant(v, share) for v in config.variants],
                "StartTime": self.pending.start_time,
            }
            if config.shadow_variants:
                summary["ShadowProductionVariants"] = [
                    self._pending_variant(v, share) for v in config.shadow_variants
                ]
            out["PendingDeploymentSummary"] = summary
        return out
