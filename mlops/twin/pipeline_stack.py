"""The delivery pipeline in the twin, as a platform team would deploy it: the staging and prod
app stacks (template.yaml, each with ml/ published under its code version) and the pipeline
stack (codepipeline.yaml) side by side in one local cloud, the stage roles and artifact
buckets `sam pipeline bootstrap` would create, and the connected repository (a local bare
git repository) holding the project's files as its first commit, the connection's handshake
done. A `git push` to it runs the pipeline (README, "The delivery pipeline in the twin")."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops.twin.cloud import TIME_SCALE, LocalCloud
from mlops.twin.cloudformation.provision import Provisioner, Stack
from mlops.twin.codeconnections.repository import LocalRepository
from mlops.twin.stack import ROOT, TwinStack, provision_app, twin_parameters

PIPELINE_STACK = "mlops-delivery"
REPOSITORY = "acme/mlops"
STAGES = ("staging", "prod")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": s}, "Action": "sts:AssumeRole"}
        for s in ("codepipeline.amazonaws.com", "cloudformation.amazonaws.com")
    ],
}


@dataclass
class DeliveryStacks:
    cloud: LocalCloud
    apps: dict[str, TwinStack]  # by stage: staging, prod
    pipeline: Stack
    repository: LocalRepository

    @property
    def pipeline_name(self) -> str:
        return self.pipeline.outputs["PipelineName"]

    def git_remote_command(self, remote: str = "twin") -> str:
        return f"git remote add {remote} {self.repository.path}"

    def close(self) -> None:
        self.cloud.stop()


def stage_stack_name(stage: str) -> str:
    return f"mlops-{stage}"


def start_delivery(
    port: int = 0,
    root: Path = ROOT,
    time_scale: float = TIME_SCALE,
    region: str = "us-east-1",
    edits: dict[str, Callable[[str], str]] | None = None,
    stage_parameters: dict[str, str] | None = None,
    history: Path | None = None,
    **pipeline_parameters: str,
) -> DeliveryStacks:
    """Start a local cloud holding the delivery: the repository's main is the project's files
    (with `edits`: file -> new text from old, e.g. an earlier training default), the stages'
    app stacks run that main (with `stage_parameters` over the twin's, kept in the stages'
    parameter overrides), and codepipeline.yaml (`pipeline_parameters` over the twin's,
    e.g. TestPaths) watches the repository. With `history` (a git checkout: `mlops local up
    --with-pipeline` passes the project's), the repository's main is that checkout's HEAD
    with its history, so a clone of it pushes to the twin as a fast-forward."""
    cloud = LocalCloud(port=port, region=region, time_scale=time_scale).start()
    try:
        main = cloud.work_dir / "main"
        copy_project(root, main, edits or {})
        return _provision(cloud, main, stage_parameters or {}, pipeline_parameters, history)
    except BaseException:
        cloud.stop()
        raise


def _provision(
    cloud: LocalCloud,
    main: Path,
    stage_parameters: dict[str, str],
    overrides: dict[str, str],
    history: Path | None = None,
) -> DeliveryStacks:
    iam, s3 = cloud.client("iam"), cloud.client("s3")
    parameters: dict[str, str] = {"FullRepositoryId": REPOSITORY}
    apps = {}
    for stage in STAGES:
        prefix = stage.capitalize()
        for role in ("PipelineExecutionRole", "CloudFormationExecutionRole"):
            parameters[prefix + role] = iam.create_role(
                RoleName=f"{stage}-{role}", AssumeRolePolicyDocument=json.dumps(TRUST)
            )["Role"]["Arn"]
        bucket = f"{stage}-pipeline-artifacts-{cloud.account}"
        s3.create_bucket(Bucket=bucket)
        parameters[prefix + "ArtifactsBucket"] = bucket
        parameters[prefix + "StackName"] = stage_stack_name(stage)
        app_parameters = twin_parameters(
            cloud.region, main / "ml", **({"Environment": stage} | stage_parameters)
        )
        apps[stage] = provision_app(cloud, stage_stack_name(stage), main, **app_parameters)
        app_parameters.pop("CodeVersion")  # the pipeline sets it: the commit
        parameters[prefix + "ParameterOverrides"] = json.dumps(app_parameters)
    pipeline = Provisioner(cloud.client, cloud.runtime, main, cloud.account, cloud.region).deploy(
        PIPELINE_STACK, main / "codepipeline.yaml", parameters | overrides
    )
    cloud.stacks.put(pipeline)
    for run in cloud.delivery.pipelines.runs(pipeline.outputs["PipelineName"]):
        run.done.wait(60)  # its creation's execution fails at Source: no handshake yet
    repository = cloud.delivery.repositories.create(REPOSITORY, pipeline.outputs["ConnectionArn"])
    if history is not None:  # no push: nothing is triggered
        repository.git("fetch", "-q", str(history), "HEAD:main")
    else:
        seed(repository, main)
    return DeliveryStacks(cloud, apps, pipeline, repository)


def project_files(root: Path) -> list[str]:
    """The files git tracks in `root` (the project), as a fresh clone holds them."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def copy_project(root: Path, target: Path, edits: dict[str, Callable[[str], str]]) -> None:
    for name in project_files(root):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, destination)
    for name, edit in edits.items():
        path = target / name
        before = path.read_text()
        after = edit(before)
        if after == before:
            raise ValueError(f"the edit of {name} changes nothing")
        path.write_text(after)


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlops",
    "GIT_AUTHOR_EMAIL": "mlops@example.com",
    "GIT_COMMITTER_NAME": "mlops",
    "GIT_COMMITTER_EMAIL": "mlops@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(work: Path, *args: str) -> str:
    env = {**GIT_IDENTITY, "HOME": str(work), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run(
        ["git", "-C", str(work), *args], capture_output=True, check=True, env=env, text=True
    ).stdout


def seed(repository: LocalRepository, main: Path) -> str:
    """The repository's history before the pipeline existed: `main`'s files as one commit,
    fetched into the bare repository (no push: nothing is triggered). The commit id."""
    git(main, "init", "-q", "-b", "main")
    git(main, "add", "-A")
    git(main, "commit", "-q", "-m", "The project as it stands")
    repository.git("fetch", "-q", str(main), "main:main")
    return git(main, "rev-parse", "HEAD").strip()
