"""The hosting operations on the wire: the control plane's endpoint calls (awsJson) and
sagemaker-runtime InvokeEndpoint (restJson, signed as "sagemaker"), served by `Hosting`;
CreateEndpointConfig stays moto's, completed with the shadow variants moto drops."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from mlops.twin.aws.responses import Response
from mlops.twin.gateway import Gateway, json_operation
from mlops.twin.sagemaker.hosting.endpoints import Hosting
from mlops.twin.sagemaker.hosting.moto_store import keep_shadow_variants

_INVOKE_ENDPOINT = r"^/endpoints/([^/]+)/invocations/?$"


def connect(gateway: Gateway, hosting: Hosting) -> None:
    operations = {
        "CreateEndpoint": lambda r: hosting.create_endpoint(
            r["EndpointName"], r["EndpointConfigName"], r.get("Tags")
        ),
        "UpdateEndpoint": lambda r: hosting.update_endpoint(
            r["EndpointName"],
            r["EndpointConfigName"],
            r.get("DeploymentConfig"),
            r.get("RetainAllVariantProperties", False),
            r.get("RetainDeploymentConfig", False),
        ),
        "DescribeEndpoint": lambda r: hosting.describe_endpoint(r["EndpointName"]),
        "ListEndpoints": lambda r: {"Endpoints": hosting.list_endpoints()},
        "DeleteEndpoint": lambda r: hosting.delete_endpoint(r["EndpointName"]) or {},
        "UpdateEndpointWeightsAndCapacities": lambda r: (
            hosting.update_endpoint_weights_and_capacities(
                r["EndpointName"], r["DesiredWeightsAndCapacities"]
            )
        ),
    }
    for operation, call in operations.items():
        gateway.route_target(f"SageMaker.{operation}", json_operation(call))
    gateway.route_path("sagemaker", _INVOKE_ENDPOINT, partial(_invoke_endpoint, hosting))
    gateway.after_target(
        "SageMaker.CreateEndpointConfig",
        lambda request, _: keep_shadow_variants(hosting.account, hosting.region, request),
    )


def _invoke_endpoint(
    hosting: Hosting, environ: dict[str, Any], body: bytes, match: re.Match[str]
) -> Response:
    return hosting.invoke(
        match.group(1),
        body,
        environ.get("CONTENT_TYPE") or "application/octet-stream",
        environ.get("HTTP_ACCEPT"),
        environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_VARIANT"),
        inference_id=environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"),
    )
