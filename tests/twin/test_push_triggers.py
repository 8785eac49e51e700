"""A push to the connected repository and what it starts: the V2 trigger's push filters
(branches, file paths, tags; include/exclude globs; excludes win) evaluated on the files the
pushed commits change, and the execution the connection's webhook would start ("Add trigger
with code push or pull request event types", "Working with glob patterns in syntax",
CodePipeline user guide)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from delivery_world import DeliveryWorld, approval_action, source_action

from mlops.twin.cloud import LocalCloud
from mlops.twin.codeconnections.pushes import Push
from mlops.twin.codeconnections.repository import ZERO, Commit, LocalRepository
from mlops.twin.codepipeline.triggers import TriggerError, filter_matches, validate_triggers

CODE_PATHS = ["template.yaml", "functions/**", "layers/**", "ml/**", "pipeline/**"]


def push(kind: str, name: str, files: tuple[str, ...] = ("x.py",)) -> Push:
    repository = LocalRepository(
        "acme/app", "arn:aws:codeconnections:us-east-1:1:connection/x", Path("/r")
    )
    prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
    commit = Commit("c" * 40, "m", "2024-01-01T00:00:00+00:00", "Dev")
    return Push(repository, prefix + name, kind, name, ZERO, "c" * 40, commit, files)


def branch_filter(branches: tuple[str, ...] = ("main",), paths: dict | None = None) -> dict:
    return {"branches": {"includes": list(branches)}} | ({"filePaths": paths} if paths else {})


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("branch", "starts"),
    [("main", True), ("develop", False), ("release/1.0", True), ("release/1.0/hotfix", True)],
)
def test_branch_includes_are_globs(branch, starts):
    assert filter_matches(branch_filter(("main", "release/**")), push("branch", branch)) is starts


def test_an_excluded_branch_starts_nothing_even_when_an_include_matches_it():
    criteria = {"branches": {"includes": ["release/*"], "excludes": ["release/old*"]}}
    assert filter_matches(criteria, push("branch", "release/new"))
    assert not filter_matches(criteria, push("branch", "release/old-1"))


@pytest.mark.parametrize(
    ("files", "starts"),
    [
        (("template.yaml",), True),
        (("functions/validate_dataset/app.py",), True),
        (("README.md",), False),
        (("docs/guide.md", "README.md"), False),
        (("README.md", "ml/train.py"), True),
        (("functions/README.md",), False),  # included, and excluded: excludes win
    ],
)
def test_file_paths_decide_on_the_files_the_push_changes(files, starts):
    criteria = branch_filter(paths={"includes": CODE_PATHS, "excludes": ["**/*.md"]})
    assert filter_matches(criteria, push("branch", "main", files)) is starts


def test_file_path_excludes_alone_include_every_other_file():
    criteria = branch_filter(paths={"excludes": ["docs/**", "*.md"]})
    assert not filter_matches(criteria, push("branch", "main", ("docs/a.md", "CHANGELOG.md")))
    assert filter_matches(criteria, push("branch", "main", ("docs/a.md", "setup.cfg")))


def test_tag_filters_match_tag_pushes_and_branch_filters_match_branch_pushes():
    tags = {"tags": {"includes": ["v*"], "excludes": ["v0*"]}}
    assert filter_matches(tags, push("tag", "v1.2"))
    assert not filter_matches(tags, push("tag", "v0.9"))
    assert not filter_matches(tags, push("branch", "v1.2"))
    assert not filter_matches(branch_filter(("**",)), push("tag", "v1.2"))


def _pipeline_with(push_filters: list[dict]) -> dict:
    return {
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {"name": "Src", "actionTypeId": {"provider": "CodeStarSourceConnection"}}
                ],
            }
        ],
        "triggers": [
            {
                "providerType": "CodeStarSourceConnection",
                "gitConfiguration": {"sourceActionName": "Src", "push": push_filters},
            }
        ],
    }


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([branch_filter()] * 4, "at most 3 push filters"),
        ([{"branches": {"includes": [f"b{i}" for i in range(9)]}}], "at most 8 patterns"),
        ([{"tags": {"includes": ["v*"]}, "branches": {"includes": ["main"]}}], "tags, on branches"),
        ([{"filePaths": {"includes": ["a/**"]}}], "tags, on branches"),
        ([{"branches": {"includes": ["{a,{b}}"]}}], "cannot be nested"),
    ],
)
def test_trigger_declarations_codepipeline_refuses_are_refused(filters, message):
    with pytest.raises(TriggerError, match=message):
        validate_triggers(_pipeline_with(filters))


def test_a_trigger_must_name_a_connection_source_action():
    declaration = _pipeline_with([branch_filter()])
    declaration["triggers"][0]["gitConfiguration"]["sourceActionName"] = "Other"
    with pytest.raises(TriggerError, match="not a CodeStarSourceConnection action"):
        validate_triggers(declaration)


# -- pushes to the connected repository ----------------------------------------------------------


@pytest.fixture(scope="module")
def world(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> DeliveryWorld:
    return DeliveryWorld(local_cloud, tmp_path_factory.mktemp("pushes"))


def filtered_pipeline(world: DeliveryWorld, push_filters: list[dict]):
    repository_id, clone = world.clone()
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, repository_id)]},
            {"name": "Release", "actions": [approval_action(world)]},
        ],
        triggers=[
            {
                "providerType": "CodeStarSourceConnection",
                "gitConfiguration": {"sourceActionName": "Source", "push": push_filters},
            }
        ],
    )
    return name, clone


def executions(world: DeliveryWorld, name: str) -> list[dict]:
    return world.cloud.client("codepipeline").list_pipeline_executions(pipelineName=name)[
        "pipelineExecutionSummaries"
    ][:-1]  # the execution creating the pipeline started is the oldest


def abandon(world: DeliveryWorld, name: str, execution: str) -> None:
    world.cloud.client("codepipeline").stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, abandon=True
    )
    world.wait(name, execution)


def test_a_push_to_main_touching_code_starts_an_execution_naming_the_commit(world):
    name, clone = filtered_pipeline(
        world, [branch_filter(paths={"includes": CODE_PATHS, "excludes": ["**/*.md"]})]
    )
    commit = clone.commit({"template.yaml": "Resources: {}\n", "README.md": "x"}, "template")
    output = clone.push()
    [started] = executions(world, name)
    assert f"CodePipeline {name}: execution {started['pipelineExecutionId']} started" in output
    assert started["trigger"] == {"triggerType": "WebhookV2", "triggerDetail": world.connection}
    world.approval_token(name, "Release", "Approve")  # the source action has run
    assert world.latest(name)["sourceRevisions"][0]["revisionId"] == commit
    abandon(world, name, started["pipelineExecutionId"])


def test_a_push_touching_only_docs_starts_nothing(world):
    name, clone = filtered_pipeline(world, [branch_filter(paths={"includes": CODE_PATHS})])
    clone.commit({"README.md": "docs only"}, "docs")
    output = clone.push()
    assert "does not match the trigger's push filters; nothing starts" in output
    assert executions(world, name) == []


def test_a_push_to_another_branch_starts_nothing(world):
    name, clone = filtered_pipeline(world, [branch_filter()])
    clone.git("checkout", "-q", "-b", "feature/x")
    clone.commit({"ml/train.py": "x = 1\n"}, "feature work")
    clone.push("feature/x")
    assert executions(world, name) == []


def test_the_files_of_every_pushed_commit_count_not_only_the_last_ones(world):
    name, clone = filtered_pipeline(world, [branch_filter(paths={"includes": ["ml/**"]})])
    clone.commit({"README.md": "a"}, "docs first")
    clone.push()
    clone.commit({"ml/train.py": "x = 2\n"}, "code")
    clone.commit({"README.md": "b"}, "docs last")
    clone.push()
    [started] = executions(world, name)
    abandon(world, name, started["pipelineExecutionId"])


def test_a_tag_push_starts_on_a_tag_filter_and_fetches_the_tagged_commit(world):
    name, clone = filtered_pipeline(world, [{"tags": {"includes": ["release-*"]}}])
    tagged = clone.commit({"app.py": "v1"}, "release one")
    clone.push()
    assert executions(world, name) == []  # a branch push, and the filter is on tags
    clone.git("tag", "-a", "release-1", "-m", "release 1")
    clone.commit({"app.py": "v2"}, "after the release")
    clone.push("main", "release-1")
    [started] = executions(world, name)
    world.approval_token(name, "Release", "Approve")
    assert world.latest(name)["sourceRevisions"][0]["revisionId"] == tagged
    abandon(world, name, started["pipelineExecutionId"])


def test_a_pending_connection_delivers_no_push(world):
    name, clone = filtered_pipeline(world, [branch_filter()])
    connection = world.cloud.delivery.connections.get(world.connection)
    connection.status = "PENDING"  # as before the console handshake
    try:
        clone.commit({"ml/x.py": "1"}, "code")
        output = clone.push()
    finally:
        connection.status = "AVAILABLE"
    assert "is not AVAILABLE: nothing starts" in output
    assert executions(world, name) == []


def test_the_source_artifact_is_the_commits_tree_and_a_start_can_name_the_commit(world):
    repository_id, clone = world.clone()
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, repository_id)]},
            {"name": "Release", "actions": [approval_action(world)]},
        ]
    )
    first = clone.commit({"app.py": "one", "lib/util.py": "u"}, "one")
    clone.commit({"app.py": "two", "new.txt": "n"}, "two")
    clone.push()
    abandon(world, name, world.latest(name)["pipelineExecutionId"])
    codepipeline = world.cloud.client("codepipeline")
    execution = codepipeline.start_pipeline_execution(
        name=name,
        sourceRevisions=[
            {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": first}
        ],
    )["pipelineExecutionId"]
    world.approval_token(name, "Release", "Approve")
    source = world.actions(name, execution)["Source"]
    location = source["output"]["outputArtifacts"][0]["s3location"]
    body = world.cloud.client("s3").get_object(Bucket=location["bucket"], Key=location["key"])
    archive = zipfile.ZipFile(io.BytesIO(body["Body"].read()))
    assert sorted(archive.namelist()) == ["app.py", "lib/", "lib/util.py"]
    assert archive.read("app.py") == b"one"
    variables = source["output"]["outputVariables"]
    assert variables["CommitId"] == first and variables["CommitMessage"] == "one"
    assert variables["FullRepositoryName"] == repository_id
    assert set(variables) == {
        "AuthorDate",
        "BranchName",
        "CommitId",
        "CommitMessage",
        "ConnectionArn",
        "FullRepositoryName",
    }
    trigger = world.latest(name)["trigger"]
    assert trigger == {
        "triggerType": "StartPipelineExecution",
        "triggerDetail": world.cloud.delivery.caller,
    }
    abandon(world, name, execution)


def test_connections_are_pending_until_a_repository_is_bound_to_them(world):
    connections = world.cloud.client("codestar-connections")
    arn = connections.create_connection(ProviderType="GitLab", ConnectionName="later")[
        "ConnectionArn"
    ]
    assert connections.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == (
        "PENDING"
    )
    world.cloud.delivery.repositories.create("acme/later", arn)
    found = connections.get_connection(ConnectionArn=arn)["Connection"]
    assert found["ConnectionStatus"] == "AVAILABLE" and found["ProviderType"] == "GitLab"
    listed = connections.list_connections(ProviderTypeFilter="GitLab")["Connections"]
    assert [c["ConnectionArn"] for c in listed] == [arn]
    with pytest.raises(connections.exceptions.ResourceNotFoundException):
        connections.get_connection(ConnectionArn=arn.replace(arn[-6:], "000000"))
