"""Connections (CodeConnections API reference, "Connection"): a connection created through the
API or CloudFormation is PENDING until its owner completes the handshake with the provider in
the console ("Update a pending connection"); only an AVAILABLE connection delivers repository
events. In the twin the handshake is binding the connection to a local repository
(`ConnectedRepositories.create`), the one step the README tells the user to take."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from mlops.twin.aws.arns import Arn, arn
from mlops.twin.aws.responses import AwsError

PROVIDER_TYPES = ("Bitbucket", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged")


class ResourceNotFound(AwsError):
    code = "ResourceNotFoundException"


@dataclass
class Connection:
    name: str
    arn: str
    provider_type: str
    owner_account: str
    status: str = "PENDING"  # PENDING | AVAILABLE | ERROR

    def to_api(self) -> dict[str, Any]:
        return {
            "ConnectionName": self.name,
            "ConnectionArn": self.arn,
            "ProviderType": self.provider_type,
            "OwnerAccountId": self.owner_account,
            "ConnectionStatus": self.status,
        }


class Connections:
    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self._lock = threading.Lock()
        self._connections: dict[str, Connection] = {}

    def create(self, name: str, provider_type: str, service: str = "codeconnections") -> Connection:
        if provider_type not in PROVIDER_TYPES:
            raise AwsError(f"ProviderType must be one of {', '.join(PROVIDER_TYPES)}")
        if not 1 <= len(name) <= 32:
            raise AwsError("ConnectionName must be 1 to 32 characters")
        resource = f"connection/{uuid.uuid4()}"
        connection = Connection(
            name, arn(service, self.region, self.account, resource), provider_type, self.account
        )
        with self._lock:
            self._connections[_key(connection.arn)] = connection
        return connection

    def get(self, connection_arn: str) -> Connection:
        with self._lock:
            found = self._connections.get(_key(connection_arn))
        if found is None:
            raise ResourceNotFound(f"Connection {connection_arn} does not exist")
        return found

    def find(self, connection_arn: str) -> Connection | None:
        with self._lock:
            return self._connections.get(_key(connection_arn))

    def adopt(self, connection_arn: str, provider_type: str = "GitHub") -> Connection:
        """A connection made outside this cloud (an ARN given as a parameter), known from now
        on; its status is PENDING until a repository is bound to it."""
        with self._lock:
            key = _key(connection_arn)
            if key not in self._connections:
                self._connections[key] = Connection(
                    connection_arn.rsplit("/", 1)[-1][:32],
                    connection_arn,
                    provider_type,
                    Arn.parse(connection_arn).account,
                )
            return self._connections[key]

    def list(self, provider_type: str | None = None) -> list[Connection]:
        with self._lock:
            return [
                c for c in self._connections.values() if provider_type in (None, c.provider_type)
            ]

    def delete(self, connection_arn: str) -> None:
        with self._lock:
            if self._connections.pop(_key(connection_arn), None) is None:
                raise ResourceNotFound(f"Connection {connection_arn} does not exist")


def _key(connection_arn: str) -> str:
    """codestar-connections and codeconnections ARNs name the same connection (CodeConnections
    user guide: the service was renamed; both ARN forms are accepted)."""
    parsed = Arn.parse(connection_arn)
    return f"{parsed.region}:{parsed.account}:{parsed.resource}"
