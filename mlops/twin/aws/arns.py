"""Amazon Resource Names (IAM user guide, "IAM identifiers", ARN format):

arn:partition:service:region:account-id:resource-id
arn:partition:service:region:account-id:resource-type/resource-id
arn:partition:service:region:account-id:resource-type:resource-id
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  # everything after the account, e.g. "stateMachine:name" or "queue-name"

    @classmethod
    def parse(cls, text: str) -> Arn:
        """Split an ARN into its fields; missing trailing fields are empty strings."""
        _, partition, service, region, account, resource = (text.split(":", 5) + [""] * 6)[:6]
        return cls(partition, service, region, account, resource)

    @property
    def resource_type(self) -> str:
        """ "function" of function:name, "event-bus" of event-bus/name; "" when untyped."""
        return self.resource.replace("/", ":", 1).partition(":")[0]

    @property
    def resource_name(self) -> str:
        """ "name" of function:name and of event-bus/name; "" when untyped (an SQS queue's
        ARN ends in the bare queue name: see `resource`)."""
        return self.resource.replace("/", ":", 1).partition(":")[2]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return str(Arn(partition, service, region, account, resource))
