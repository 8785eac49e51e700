"""Small wrappers around the AWS APIs the domain needs; each takes its boto3 client.

Handlers build them with the one-line factories of `adapters.factories`.
"""

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
