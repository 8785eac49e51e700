"""Small wrappers around the AWS APIs the domain needs; each takes its boto3 client."""

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    """One client per service per warm container (created on first use, not at import)."""
    return boto3.client(service)


@cache
def resource(service: str) -> Any:
    return boto3.resource(service)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
