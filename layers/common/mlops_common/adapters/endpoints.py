import time
from typing import Any


class Endpoints:
    """SageMaker hosting control plane and runtime for the stack's endpoint."""

    def __init__(self, sagemaker_client: Any, runtime_client: Any | None = None) -> None:
        self._sm = sagemaker_client
        self._rt = runtime_client

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self._sm.describe_endpoint(EndpointName=name)
        except self._sm.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return None
            raise

    def describe_config(self, name: str) -> dict[str, Any]:
        return self._sm.describe_endpoint_config(EndpointConfigName=name)

    def describe_model(self, name: str) -> dict[str, Any]:
        return self._sm.describe_model(ModelName=name)

    def invoke(self, name: str, body: bytes, content_type: str) -> tuple[bytes, float]:
        """Returns the response body and the round-trip latency in milliseconds."""
        assert self._rt is not None, "runtime client required to invoke"
        started = time.perf_counter()
        response = self._rt.invoke_endpoint(
            EndpointName=name, Body=body, ContentType=content_type, Accept="application/json"
        )
        payload = response["Body"].read()
        return payload, (time.perf_counter() - started) * 1000
