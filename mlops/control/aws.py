"""Where the control plane's calls go: the standard credential chain (profile, environment,
instance role), a region, and an endpoint for the twin (`--endpoint-url`, or
`AWS_ENDPOINT_URL`, which botocore reads itself: "Service-specific endpoints", AWS SDKs and
Tools reference guide). AWS errors that mean "who you are" become NoCredentials; the rest a
one-line Failed naming the operation."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from mlops.control.errors import ControlError, Failed, NoCredentials

# Error codes AWS answers when the caller's credentials are missing, wrong, expired or not
# allowed (AWS general reference "Common errors"; STS and IAM API references).
_IDENTITY_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
}


class AwsTarget:
    def __init__(
        self,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.profile, self.endpoint_url = profile, endpoint_url
        self._region = region
        self._clients: dict[str, Any] = {}

    @cached_property
    def session(self) -> boto3.session.Session:
        try:
            return boto3.session.Session(profile_name=self.profile, region_name=self._region)
        except ProfileNotFound as exc:
            raise NoCredentials(f"no such AWS profile: {self.profile}") from exc

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise ControlError("no AWS region: pass --region or set AWS_REGION")
        return region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    def resource(self, service: str) -> Any:
        return self.session.resource(
            service, region_name=self.region, endpoint_url=self.endpoint_url
        )

    @cached_property
    def identity(self) -> str:
        """The caller's ARN (STS GetCallerIdentity): who approves, rejects, retrains."""
        return self.client("sts").get_caller_identity()["Arn"]


def translate(exc: BaseException) -> ControlError | None:
    """The one-line ControlError an AWS SDK failure means to an operator; None if it is not
    an AWS SDK failure."""
    if isinstance(exc, ControlError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return NoCredentials(f"no usable AWS credentials: {exc}")
    if isinstance(exc, ProfileNotFound):
        return NoCredentials(str(exc))
    if isinstance(exc, NoRegionError):
        return ControlError("no AWS region: pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return Failed(f"cannot reach {exc.kwargs.get('endpoint_url')}: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        line = f"{exc.operation_name}: {code}: {message}"
        return NoCredentials(line) if code in _IDENTITY_CODES else Failed(line)
    if isinstance(exc, BotoCoreError):
        return Failed(str(exc))
    return None
