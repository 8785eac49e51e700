"""Read endpoint configs and models from moto's SageMaker backend (moto 5.2.5 internals).

Internals relied on (guard each with a contract test):
- `moto.sagemaker.models.sagemaker_backends[account][region]`
- `.endpoint_configs: dict[str, FakeEndpointConfig]`; `FakeEndpointConfig.production_variants`
  is the request's ProductionVariants list as sent; `.endpoint_config_arn`.
- `FakeEndpointConfig` does NOT keep ShadowProductionVariants (responses.create_endpoint_config
  drops it); the gateway calls `keep_shadow_variants` after moto answered, which stores the
  request's list as the attribute `shadow_production_variants`. moto's
  `BaseObject.gen_response_object` turns every attribute into a response key by title-casing
  its `_`-separated words, so that name is exactly what makes DescribeEndpointConfig return
  `ShadowProductionVariants`; it is read back here.
- `FakeEndpointConfig.data_capture_config` is the request's DataCaptureConfig dict ({} if none).
- `.describe_model(name)` returns `Model` with `.primary_container` / `.containers` dicts
  (Image, ModelDataUrl, Environment) or raises moto's ValidationError.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mlops.twin.aws.arns import arn
from mlops.twin.sagemaker.backend import sagemaker_backend
from mlops.twin.sagemaker.hosting.capture import DataCaptureSpec
from mlops.twin.sagemaker.hosting.errors import HostingError


@dataclass
class VariantSpec:
    """One production or shadow variant of an endpoint config, with live weights."""

    name: str
    model_name: str
    container: dict[str, Any]
    instance_type: str | None
    current_weight: float
    desired_weight: float
    current_instance_count: int
    desired_instance_count: int

    def summary(self, resolution_time: Any) -> dict[str, Any]:
        image = self.container.get("Image", "")
        return {
            "VariantName": self.name,
            "DeployedImages": [
                {"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": resolution_time}
            ],
            "CurrentWeight": self.current_weight,
            "DesiredWeight": self.desired_weight,
            "CurrentInstanceCount": self.current_instance_count,
            "DesiredInstanceCount": self.desired_instance_count,
        }


@dataclass(frozen=True)
class EndpointConfigSpec:
    name: str
    arn: str
    variants: list[VariantSpec]
    shadow_variants: list[VariantSpec]
    data_capture: DataCaptureSpec | None = None


def _container(backend: Any, model_name: str) -> dict[str, Any]:
    try:
        model = backend.describe_model(model_name)
    except Exception as exc:  # moto's ValidationError: the model was deleted
        raise HostingError(str(getattr(exc, "message", exc))) from exc
    if model.primary_container:
        return dict(model.primary_container)
    if model.containers:
        return dict(model.containers[0])  # the twin serves single-container models only
    return {}


def _variant(backend: Any, raw: dict[str, Any]) -> VariantSpec:
    weight = float(raw.get("InitialVariantWeight", 1.0))
    count = int(raw.get("InitialInstanceCount", 1))
    return VariantSpec(
        name=raw["VariantName"],
        model_name=raw["ModelName"],
        container=_container(backend, raw["ModelName"]),
        instance_type=raw.get("InstanceType"),
        current_weight=weight,
        desired_weight=weight,
        current_instance_count=count,
        desired_instance_count=count,
    )


def load_endpoint_config(account: str, region: str, name: str) -> EndpointConfigSpec:
    backend = sagemaker_backend(account, region)
    config = backend.endpoint_configs.get(name)
    if config is None:
        config_arn = arn("sagemaker", region, account, f"endpoint-config/{name}")
        raise HostingError(f'Could not find endpoint configuration "{config_arn}".')
    shadows = getattr(config, "shadow_production_variants", None) or []
    return EndpointConfigSpec(
        name=name,
        arn=config.endpoint_config_arn,
        variants=[_variant(backend, v) for v in config.production_variants],
        shadow_variants=[_variant(backend, v) for v in shadows],
        data_capture=DataCaptureSpec.from_config(getattr(config, "data_capture_config", None)),
    )


def keep_shadow_variants(account: str, region: str, request: dict[str, Any]) -> None:
    """Store a CreateEndpointConfig request's ShadowProductionVariants on moto's record.

    Call after moto answered CreateEndpointConfig with 2xx. A request without shadow
    variants, or a config moto does not hold, leaves moto untouched.
    """
    shadows = request.get("ShadowProductionVariants")
    if not shadows:
        return
    configs = sagemaker_backend(account, region).endpoint_configs
    config = configs.get(request.get("EndpointConfigName"))
    if config is not None:
        config.shadow_production_variants = copy.deepcopy(list(shadows))
