"""The delivery services of the local cloud wired together: connections and the connected
repositories (codeconnections/), the pipeline executor with its action providers (Source:
CodeStarSourceConnection, Build and Test: CodeBuild, Approval: Manual), and the push triggers
that start executions; `add_deploy_actions` adds the CloudFormation deploy and Step Functions
invoke providers, which need the stacks and the provisioner of the local cloud."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.twin.cloudformation.stacks import StackRecords
from mlops.twin.codebuild.runner import BuildRunner
from mlops.twin.codeconnections import api as connections_api
from mlops.twin.codeconnections.connections import Connections
from mlops.twin.codeconnections.pushes import ConnectedRepositories
from mlops.twin.codepipeline import api as pipeline_api
from mlops.twin.codepipeline.approval import Approvals
from mlops.twin.codepipeline.build_action import CodeBuildAction
from mlops.twin.codepipeline.executor import PipelineExecutor
from mlops.twin.codepipeline.providers import ProviderRegistry
from mlops.twin.codepipeline.source import ConnectionSource
from mlops.twin.codepipeline.stack_action import CloudFormationAction, ProvisionerFactory
from mlops.twin.codepipeline.stepfunctions_action import StepFunctionsAction
from mlops.twin.codepipeline.triggers import PushTriggers
from mlops.twin.events.emit import put_aws_event
from mlops.twin.gateway import Gateway


@dataclass
class Delivery:
    connections: Connections
    repositories: ConnectedRepositories
    approvals: Approvals
    providers: ProviderRegistry
    pipelines: PipelineExecutor
    caller: str


def install_delivery(
    seams: ExitStack,
    account: str,
    region: str,
    client: Callable[[str], Any],
    builds: BuildRunner,
    work_dir: Path,
    port: int,
) -> Delivery:
    """Enter the seams into `seams` (after the BuildRunner: executions stop before builds)."""
    caller = f"arn:aws:iam::{account}:root"  # the twin's one identity
    connections = Connections(account, region)
    repositories = seams.enter_context(
        ConnectedRepositories(connections, work_dir / "repositories", port)
    )
    approvals = Approvals(caller)
    providers = ProviderRegistry()
    providers.register("Source", "CodeStarSourceConnection", ConnectionSource(repositories))
    for category in ("Build", "Test"):
        providers.register(category, "CodeBuild", CodeBuildAction(builds))
    providers.register("Approval", "Manual", approvals)

    def emit(detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        put_aws_event(account, region, "aws.codepipeline", detail_type, detail, resources)

    pipelines = seams.enter_context(PipelineExecutor(account, region, client, providers, emit))
    repositories.add_listener(PushTriggers(pipelines, connections))
    return Delivery(connections, repositories, approvals, providers, pipelines, caller)


def add_deploy_actions(
    delivery: Delivery, stacks: StackRecords, provisioner: ProvisionerFactory, work_dir: Path
) -> None:
    delivery.providers.register(
        "Deploy", "CloudFormation", CloudFormationAction(stacks, provisioner, work_dir / "stacks")
    )
    delivery.providers.register(
        "Invoke", "StepFunctions", StepFunctionsAction(work_dir / "stepfunctions")
    )


def connect_delivery(gateway: Gateway, delivery: Delivery) -> None:
    connections_api.connect(gateway, delivery.connections, delivery.repositories)
    pipeline_api.connect(gateway, delivery.pipelines, delivery.approvals, delivery.caller)
