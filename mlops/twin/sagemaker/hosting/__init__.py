"""SageMaker hosting for the twin: real inference servers behind moto's endpoint configs.

`Hosting` (endpoints.py) is the seam that serves CreateEndpoint, UpdateEndpoint,
DeleteEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpointWeightsAndCapacities and
sagemaker-runtime InvokeEndpoint; api.py connects them to the gateway, with
`keep_shadow_variants` after moto's CreateEndpointConfig. Errors are `HostingError` subclasses
(AWS errors: code, message, status). One module per concept: endpoints and their state, the
deployment plan and its lifecycle (blue/green, guardrails), fleets of model servers and the
servers themselves, routing, shadow copies, data capture, metrics.
"""

from mlops.twin.sagemaker.hosting.endpoints import INVOKED_VARIANT_HEADER, Hosting
from mlops.twin.sagemaker.hosting.errors import HostingError, ModelError, RuntimeValidationError
from mlops.twin.sagemaker.hosting.moto_store import keep_shadow_variants

__all__ = [
    "INVOKED_VARIANT_HEADER",
    "Hosting",
    "HostingError",
    "ModelError",
    "RuntimeValidationError",
    "keep_shadow_variants",
]
