"""Scaffolding the delivery tests share: a pipeline's surroundings in a local cloud (service
role, artifact bucket, connection, approval topic, an SQS queue that receives every
aws.codepipeline event), a working clone of a connected repository to commit and push from,
and builders for the actions the twin runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.twin.cloud import LocalCloud

# One statement per service: moto 5.2.5's CreatePipeline reads Principal.Service as a string.
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        for service in ("codepipeline.amazonaws.com", "codebuild.amazonaws.com")
    ],
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line contains `marker` (Linux /proc), this one excepted."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Clone:
    """A developer's working copy whose `origin` is the connected repository."""

    path: Path
    remote: Path

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **GIT_IDENTITY, "HOME": str(self.path)}
        return subprocess.run(
            ["git", "-C", str(self.path), *args],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, *refs: str) -> str:
        """`git push origin <refs>`; the hook's messages (git prints them as 'remote: ...')."""
        return self.git("push", "origin", *(refs or ("main",))).stderr


@dataclass
class DeliveryWorld:
    cloud: LocalCloud
    root: Path
    bucket: str = field(default_factory=lambda: f"artifacts-{uuid.uuid4().hex[:8]}")
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        iam, sqs = self.cloud.client("iam"), self.cloud.client("sqs")
        name = f"pipeline-{uuid.uuid4().hex[:8]}"
        self.role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))[
            "Role"
        ]["Arn"]
        self.cloud.client("s3").create_bucket(Bucket=self.bucket)
        self.connection = self.cloud.client("codestar-connections").create_connection(
            ProviderType="GitHub", ConnectionName=name
        )["ConnectionArn"]
        self.topic = self.cloud.client("sns").create_topic(Name=f"{name}-approvals")["TopicArn"]
        self.queue = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        events = self.cloud.client("events")
        events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.codepipeline"]}))
        events.put_targets(
            Rule=name, Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
        )

    # -- repositories --------------------------------------------------------------------------
    def clone(self, repository_id: str | None = None) -> tuple[str, Clone]:
        repository_id = repository_id or f"acme/app-{uuid.uuid4().hex[:8]}"
        bare = self.cloud.delivery.repositories.create(repository_id, self.connection)
        path = self.root / repository_id.replace("/", "_")
        path.mkdir(parents=True)
        clone = Clone(path, bare.path)
        clone.git("init", "-q", "-b", "main")
        clone.git("remote", "add", "origin", str(bare.path))
        return repository_id, clone

    # -- pipelines -----------------------------------------------------------------------------
    def pipeline(self, stages: list[dict[str, Any]], **settings: Any) -> str:
        """Create the pipeline and wait until the execution its creation starts has ended."""
        name = settings.pop("name", None) or f"pl-{uuid.uuid4().hex[:8]}"
        codepipeline = self.cloud.client("codepipeline")
        codepipeline.create_pipeline(
            pipeline={
                "name": name,
                "roleArn": self.role,
                "artifactStore": {"type": "S3", "location": self.bucket},
                "pipelineType": "V2",
                "stages": stages,
                **settings,
            }
        )
        first = codepipeline.list_pipeline_executions(pipelineName=name)[
            "pipelineExecutionSummaries"
        ][0]["pipelineExecutionId"]
        self.wait(name, first)
        return name

    def project(self, buildspec: str) -> str:
        name = f"build-{uuid.uuid4().hex[:8]}"
        self.cloud.client("codebuild").create_project(
            name=name,
            source={"type": "CODEPIPELINE", "buildspec": buildspec},
            artifacts={"type": "CODEPIPELINE"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=self.role,
        )
        return name

    def latest(self, name: str) -> dict[str, Any]:
        return self.cloud.client("codepipeline").list_pipeline_executions(pipelineName=name)[
            "pipelineExecutionSummaries"
        ][0]

    def wait(self, name: str, execution_id: str, timeout: float = 90) -> str:
        return self.cloud.delivery.pipelines.wait(name, execution_id, timeout)

    def actions(self, name: str, execution_id: str) -> dict[str, dict[str, Any]]:
        """Latest attempt of each action of the execution, by action name."""
        details = self.cloud.client("codepipeline").list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        found: dict[str, dict[str, Any]] = {}
        for detail in sorted(details, key=lambda d: d["startTime"]):
            found[detail["actionName"]] = detail
        return found

    def approval_token(self, name: str, stage: str, action: str) -> str:
        def token() -> str | None:
            state = self.cloud.client("codepipeline").get_pipeline_state(name=name)
            for stage_state in state["stageStates"]:
                for action_state in stage_state["actionStates"]:
                    if stage_state["stageName"] == stage and action_state["actionName"] == action:
                        return action_state.get("latestExecution", {}).get("token")
            return None

        return wait_for(token, what=f"an approval token on {stage}/{action}")

    def received_events(self, execution_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(detail-type, detail) of every event so far of the execution, in arrival order."""
        sqs = self.cloud.client("sqs")
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                self.events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [
            (e["detail-type"], e["detail"])
            for e in self.events
            if e["detail"].get("execution-id") == execution_id
        ]


# -- action declarations ------------------------------------------------------------------------


def source_action(world: DeliveryWorld, repository_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Source",
        "actionTypeId": _type("Source", "CodeStarSourceConnection"),
        "namespace": "SourceVariables",
        "outputArtifacts": [{"name": "SourceArtifact"}],
        "configuration": {
            "ConnectionArn": world.connection,
            "FullRepositoryId": repository_id,
            "BranchName": "main",
        },
        **extra,
    }


def build_action(name: str, project: str, **extra: Any) -> dict[str, Any]:
    configuration = {"ProjectName": project, **extra.pop("configuration", {})}
    return {
        "name": name,
        "actionTypeId": _type("Build", "CodeBuild"),
        "inputArtifacts": [{"name": "SourceArtifact"}],
        "configuration": configuration,
        **extra,
    }


def approval_action(world: DeliveryWorld, **configuration: str) -> dict[str, Any]:
    return {
        "name": "Approve",
        "actionTypeId": _type("Approval", "Manual"),
        "configuration": {"NotificationArn": world.topic, **configuration},
    }


def _type(category: str, provider: str) -> dict[str, str]:
    owner = "AWS"
    return {"category": category, "owner": owner, "provider": provider, "version": "1"}
