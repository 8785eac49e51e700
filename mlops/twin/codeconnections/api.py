"""Connections on the wire and the hook's callback.

Served: CreateConnection, GetConnection, ListConnections, DeleteConnection of the
`codestar-connections` JSON API (CodeStar connections API reference; the same connections the
renamed CodeConnections service shows). botocore speaks `codeconnections` in the
smithy-rpc-v2-cbor protocol, which the twin does not serve: clients use the
codestar-connections client, which accepts both ARN forms.
The hook posts to HOOK_PATH, unsigned, on loopback."""

from __future__ import annotations

import json
import re
from typing import Any

from mlops.twin.aws.responses import Response, json_response
from mlops.twin.codeconnections.connections import Connections
from mlops.twin.codeconnections.hook import HOOK_PATH
from mlops.twin.codeconnections.pushes import ConnectedRepositories
from mlops.twin.gateway import Gateway, json_operation

_TARGET = "com.amazonaws.codestar.connections.CodeStar_connections_20191201."


def connect(
    gateway: Gateway, connections: Connections, repositories: ConnectedRepositories
) -> None:
    def create(request: dict[str, Any]) -> dict[str, Any]:
        connection = connections.create(
            request["ConnectionName"], request.get("ProviderType", "GitHub"), "codestar-connections"
        )
        return {"ConnectionArn": connection.arn, "Tags": request.get("Tags", [])}

    def get(request: dict[str, Any]) -> dict[str, Any]:
        return {"Connection": connections.get(request["ConnectionArn"]).to_api()}

    def list_(request: dict[str, Any]) -> dict[str, Any]:
        found = connections.list(request.get("ProviderTypeFilter"))
        return {"Connections": [c.to_api() for c in found]}

    def delete(request: dict[str, Any]) -> dict[str, Any]:
        connections.delete(request["ConnectionArn"])
        return {}

    for operation, call in (
        ("CreateConnection", create),
        ("GetConnection", get),
        ("ListConnections", list_),
        ("DeleteConnection", delete),
    ):
        gateway.route_target(_TARGET + operation, json_operation(call))

    def push(_environ: dict[str, Any], body: bytes, _match: re.Match[str]) -> Response:
        return json_response({"messages": repositories.receive(json.loads(body or b"{}"))})

    gateway.route_path("", "^" + re.escape(HOOK_PATH) + "$", push, method="POST")
