"""The stack as CloudFormation describes it: outputs, parameters and resources, read once
from its name (DescribeStacks, ListStackResources) so no operator ever types an ARN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlops.control.errors import NotFound


@dataclass(frozen=True)
class Resource:
    logical_id: str
    physical_id: str
    type: str


@dataclass(frozen=True)
class StackInfo:
    name: str
    stack_id: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, Resource]  # by logical id

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise NotFound(f"stack {self.name} has no output {key}") from None

    def resource(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise NotFound(f"stack {self.name} has no resource {logical_id}") from None

    def of_type(self, resource_type: str, prefix: str = "") -> list[Resource]:
        """Resources of a type whose logical ids start with `prefix`, in logical-id order."""
        return sorted(
            (
                r
                for r in self.resources.values()
                if r.type == resource_type and r.logical_id.startswith(prefix)
            ),
            key=lambda r: r.logical_id,
        )


def describe_stack(cloudformation: Any, name: str) -> StackInfo:
    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            region = cloudformation.meta.region_name
            raise NotFound(f"no such stack: {name} (region {region})") from exc
        raise
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=name)
    resources = {
        s["LogicalResourceId"]: Resource(
            s["LogicalResourceId"], s.get("PhysicalResourceId", ""), s["ResourceType"]
        )
        for page in pages
        for s in page["StackResourceSummaries"]
    }
    return StackInfo(
        name=stack["StackName"],
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
        resources=resources,
    )
