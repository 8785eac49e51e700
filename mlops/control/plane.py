"""ControlPlane: the stack resolved once from its name, with the clients and the layer's own
adapters (registry, ledger, endpoints) every read and action uses.

The adapters are the ones the Lambda functions use (layers/common/mlops_common), so the CLI
reads the registry, the ledger and the endpoint exactly as the workflows do: one definition of
the champion, of the live version and of the ledger's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mlops.control.aws import AwsTarget
from mlops.control.stack import StackInfo, describe_stack


@dataclass(frozen=True)
class Workflow:
    key: str  # what the operator types: training, deploy, rollback, drift
    label: str  # the state machine's logical id: TrainingPipeline, ...
    arn: str


# key -> the state machine's logical id; its ARN is the output "<logical id>Arn".
WORKFLOWS = {
    "training": "TrainingPipeline",
    "deploy": "DeployPipeline",
    "rollback": "RollbackPipeline",
    "drift": "DriftCheck",
}

# The workflows that rules on the bus start, so an archived event can start them again. The
# DriftCheck is started by its EventBridge Scheduler schedule, whose invocations are not events
# on a bus and never reach the archive.
REPLAYABLE = ("training", "deploy", "rollback")


class ControlPlane:
    def __init__(self, aws: AwsTarget, stack: StackInfo) -> None:
        self.aws = aws
        self.stack = stack
        self.workflows = {
            key: Workflow(key, label, stack.output(f"{label}Arn"))
            for key, label in WORKFLOWS.items()
        }

    @classmethod
    def connect(cls, aws: AwsTarget, stack_name: str) -> ControlPlane:
        return cls(aws, describe_stack(aws.client("cloudformation"), stack_name))

    # ---------------------------------------------------------------- workflows

    def workflow_of(self, label: str) -> Workflow:
        return next(w for w in self.workflows.values() if w.label == label)

    def state_machines(self, keys: list[str] | None = None) -> dict[str, str]:
        """label -> state machine ARN, for the Watcher."""
        return {w.label: w.arn for k, w in self.workflows.items() if keys is None or k in keys}

    def rules(self, keys: list[str]) -> list[dict[str, Any]]:
        """The rules that start the given workflows (DescribeRule of each). SAM names each rule
        after its state machine and event (e.g. TrainingPipelineNewDataset), so a rule added to
        a workflow's Events is found without a change here."""
        events = self.client("events")
        found = []
        for key in keys:
            for rule in self.stack.of_type("AWS::Events::Rule", self.workflows[key].label):
                # A rule's physical id is "bus|name" off the default bus (CloudFormation's Ref).
                bus, _, name = rule.physical_id.rpartition("|")
                found.append(events.describe_rule(Name=name, EventBusName=bus or "default"))
        return found

    def rule_arns(self, keys: list[str]) -> list[str]:
        return [rule["Arn"] for rule in self.rules(keys)]

    @property
    def account(self) -> str:
        return self.stack.stack_id.split(":")[4]

    # ---------------------------------------------------------------- services

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def identity(self) -> str:
        return self.aws.identity

    @property
    def endpoint_name(self) -> str:
        return self.stack.output("EndpointName")

    @property
    def package_group(self) -> str:
        return self.stack.output("ModelPackageGroupName")

    @property
    def dead_letter_queue_url(self) -> str:
        return self.stack.resource("EventsDeadLetterQueue").physical_id

    @cached_property
    def ledger_table(self) -> Any:
        return self.aws.resource("dynamodb").Table(self.stack.output("LedgerTableName"))

    @cached_property
    def ledger(self) -> Any:
        from mlops_common.adapters.ledger import Ledger

        return Ledger(self.ledger_table)

    @cached_property
    def registry(self) -> Any:
        from mlops_common.adapters.registry import ModelRegistry

        return ModelRegistry(self.client("sagemaker"), self.package_group)

    @cached_property
    def endpoints(self) -> Any:
        from mlops_common.adapters.endpoints import Endpoints

        return Endpoints(self.client("sagemaker"))
