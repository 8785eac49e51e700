"""SageMaker hosting for the twin: real inference servers behind moto's endpoint configs.

`Hosting` is the gateway's seam for CreateEndpoint, UpdateEndpoint, DeleteEndpoint,
DescribeEndpoint, ListEndpoints, UpdateEndpointWeightsAndCapacities and sagemaker-runtime
InvokeEndpoint. Errors are `HostingError` subclasses carrying the AWS code and message.
`keep_shadow_variants` is the gateway's hook after moto's CreateEndpointConfig.
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
