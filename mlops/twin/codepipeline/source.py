"""The CodeStarSourceConnection source action ("CodeStarSourceConnection for Bitbucket Cloud,
GitHub, GitHub Enterprise Server, GitLab.com, and GitLab self-managed actions", CodePipeline
action reference), against the twin's connected repositories.

Configuration: ConnectionArn, FullRepositoryId, BranchName, OutputArtifactFormat (CODE_ZIP, the
default, is a ZIP of the commit's files; CODEBUILD_CLONE_REF is not served by the twin).
The commit is the one the push named (or StartPipelineExecution's sourceRevisions), else the
head of BranchName. Output variables: AuthorDate, BranchName, CommitId, CommitMessage,
ConnectionArn, FullRepositoryName. The revision summary is the JSON CodePipeline shows for
connection sources: {"ProviderType": ..., "CommitMessage": ...}.
"""

from __future__ import annotations

import json

from mlops.twin.aws.timestamps import epoch_seconds
from mlops.twin.codeconnections.pushes import ConnectedRepositories
from mlops.twin.codeconnections.repository import GitError
from mlops.twin.codepipeline.providers import ActionContext, ActionResult


class ConnectionSource:
    def __init__(self, repositories: ConnectedRepositories) -> None:
        self.repositories = repositories

    def run(self, context: ActionContext) -> ActionResult:
        config = context.configuration
        missing = [k for k in ("ConnectionArn", "FullRepositoryId") if not config.get(k)]
        if missing:
            return ActionResult.failed(f"Missing required configuration: {', '.join(missing)}")
        if config.get("OutputArtifactFormat", "CODE_ZIP") != "CODE_ZIP":
            return ActionResult.failed(
                "The twin serves OutputArtifactFormat CODE_ZIP only, got "
                f"{config['OutputArtifactFormat']}"
            )
        connection = self.repositories.connections.find(config["ConnectionArn"])
        if connection is None or connection.status != "AVAILABLE":
            status = connection.status if connection else "unknown to this account"
            return ActionResult.failed(
                f"Connection {config['ConnectionArn']} is {status}: complete the connection "
                "handshake before the pipeline can fetch its source"
            )
        repository = self.repositories.find(config["ConnectionArn"], config["FullRepositoryId"])
        if repository is None:
            return ActionResult.failed(
                f"Repository {config['FullRepositoryId']} is not reachable through "
                f"connection {config['ConnectionArn']}"
            )
        override = context.source_override
        branch = (override.branch if override else None) or config.get("BranchName", "")
        commit_id = override.commit if override else repository.branch_head(branch)
        if commit_id is None:
            return ActionResult.failed(
                f"Branch {branch} does not exist in repository {config['FullRepositoryId']}"
            )
        try:
            commit = repository.commit(commit_id)
            body = repository.archive_zip(commit.id)
        except GitError as error:
            return ActionResult.failed(str(error))
        s3 = context.client("s3")
        for artifact in context.output_artifacts:
            location = artifact["s3location"]
            s3.put_object(Bucket=location["bucket"], Key=location["key"], Body=body)
        revision_url = f"file://{repository.path}?commit={commit.id}"
        return ActionResult(
            "Succeeded",
            summary=commit.message.splitlines()[0] if commit.message else None,
            external_execution_id=commit.id,
            external_execution_url=revision_url,
            output_variables={
                "AuthorDate": commit.author_date,
                "BranchName": branch,
                "CommitId": commit.id,
                "CommitMessage": commit.message,
                "ConnectionArn": config["ConnectionArn"],
                "FullRepositoryName": config["FullRepositoryId"],
            },
            revision={
                "revisionId": commit.id,
                "revisionChangeId": commit.id,
                "revisionSummary": json.dumps(
                    {"ProviderType": connection.provider_type, "CommitMessage": commit.message}
                ),
                "revisionUrl": revision_url,
                "created": epoch_seconds(commit.author_date),
            },
        )
