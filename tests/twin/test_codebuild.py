"""CodeBuild in the twin: a buildspec 0.2 runs as local processes, with CodeBuild's phases,
transitions, variables, artifacts, logs and refusals (CodeBuild user guide, "Build
specification reference", "Build phase transitions", "Environment variables in build
environments")."""

from __future__ import annotations

import io
import textwrap
import time
import uuid
import zipfile
from typing import Any

import pytest
from delivery_world import processes_with

from mlops.twin.cloud import LocalCloud
from mlops.twin.codebuild.build import ArtifactOutput, BuildRequest, SourceInput
from mlops.twin.codebuild.runner import BuildRunner

BUCKET = "codebuild-sources"
ALL_PHASES = [
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
]


@pytest.fixture(scope="module")
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    local_cloud.client("s3").create_bucket(Bucket=BUCKET)
    return local_cloud


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def project(cloud: LocalCloud, **extra: Any) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    cloud.client("codebuild").create_project(
        name=name,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            **extra.pop("environment", {}),
        },
        serviceRole="arn:aws:iam::123456789012:role/codebuild",
        **extra,
    )
    return name


def run(cloud: LocalCloud, buildspec: str, files: dict[str, str] | None = None, **kw: Any):
    """A pipeline-style build: the source zip in S3 (buildspec.yml inside), started in-process
    as the CodePipeline action starts it; returns BatchGetBuilds' record when it has ended."""
    key = f"src/{uuid.uuid4().hex}.zip"
    body = zipped({"buildspec.yml": textwrap.dedent(buildspec), **(files or {})})
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    runner = kw.pop("runner", cloud.builds)
    request = BuildRequest(
        project=kw.pop("project", None) or project(cloud),
        source_type="CODEPIPELINE",
        sources=(SourceInput("SourceArtifact", BUCKET, key), *kw.pop("extra_sources", ())),
        source_version=f"arn:aws:s3:::{BUCKET}/{key}",
        resolved_source_version=kw.pop("commit", "0123abcd" * 5),
        **kw,
    )
    build = runner.start(request)
    runner.wait(build.id, 60)
    return cloud.client("codebuild").batch_get_builds(ids=[build.id])["builds"][0]


def phases(build: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def log_lines(cloud: LocalCloud, build: dict[str, Any]) -> list[str]:
    events = cloud.client("logs").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )["events"]
    return [e["message"] for e in events]


def test_a_passing_build_goes_through_every_phase_in_order(cloud):
    build = run(cloud, "version: 0.2\nphases:\n  build:\n    commands: [echo built]\n")
    assert build["buildStatus"] == "SUCCEEDED" and build["buildComplete"] is True
    assert [p for p, _ in phases(build)] == ALL_PHASES
    assert all(status == "SUCCEEDED" for p, status in phases(build) if p != "COMPLETED")
    assert build["currentPhase"] == "COMPLETED"


def test_commands_share_environment_and_directory_across_commands_and_phases(cloud):
    build = run(
        cloud,
        """
        version: 0.2
        env:
          variables: {GREETING: hello}
          exported-variables: [WHERE, GREETING, FROM_INSTALL]
        phases:
          install:
            commands:
              - export FROM_INSTALL=yes
              - mkdir -p deep/er && cd deep
          build:
            commands:
              - cd er
              - export WHERE=$(pwd | sed "s#$CODEBUILD_SRC_DIR/##")
        """,
    )
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["exportedEnvironmentVariables"] == [
        {"name": "WHERE", "value": "deep/er"},
        {"name": "GREETING", "value": "hello"},
        {"name": "FROM_INSTALL", "value": "yes"},
    ]


def test_codebuild_variables_name_the_build_and_the_resolved_commit(cloud):
    build = run(
        cloud,
        """
        version: 0.2
        env:
          exported-variables: [ID, COMMIT, SRC, SUCCEEDING, INITIATOR, ENDPOINT, KEY]
        phases:
          build:
            commands:
              - export ID=$CODEBUILD_BUILD_ID COMMIT=$CODEBUILD_RESOLVED_SOURCE_VERSION
              - export SRC=$CODEBUILD_SRC_DIR SUCCEEDING=$CODEBUILD_BUILD_SUCCEEDING
              - export INITIATOR=$CODEBUILD_INITIATOR ENDPOINT=$AWS_ENDPOINT_URL
              - export KEY=$AWS_ACCESS_KEY_ID
        """,
        commit="feedc0de" * 5,
        initiator="codepipeline/delivery",
    )
    exported = {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]}
    assert exported["ID"] == build["id"] and build["id"].startswith(build["projectName"] + ":")
    assert exported["COMMIT"] == "feedc0de" * 5 == build["resolvedSourceVersion"]
    assert exported["SRC"].endswith("/src") and exported["SUCCEEDING"] == "1"
    assert exported["INITIATOR"] == "codepipeline/delivery"
    assert exported["ENDPOINT"] == cloud.url and exported["KEY"] == "testing"


def test_build_processes_do_not_inherit_the_hosts_environment(cloud, monkeypatch):
    monkeypatch.setenv("TWIN_HOST_SECRET", "do-not-leak")
    build = run(
        cloud,
        'version: 0.2\nphases:\n  build:\n    commands:\n      - test -z "$TWIN_HOST_SECRET"\n',
    )
    assert build["buildStatus"] == "SUCCEEDED"


def test_variables_follow_codebuilds_precedence_start_build_over_project_over_buildspec(cloud):
    name = project(
        cloud,
        environment={"environmentVariables": [{"name": "WHO", "value": "project"}]},
    )
    spec = """
        version: 0.2
        env:
          variables: {WHO: buildspec, ONLY_SPEC: spec}
          exported-variables: [WHO, ONLY_SPEC]
        phases: {build: {commands: ["true"]}}
        """
    plain = run(cloud, spec, project=name)
    overridden = run(
        cloud, spec, project=name, environment_overrides=({"name": "WHO", "value": "start"},)
    )
    assert plain["exportedEnvironmentVariables"][0]["value"] == "project"
    assert overridden["exportedEnvironmentVariables"][0]["value"] == "start"
    assert overridden["exportedEnvironmentVariables"][1]["value"] == "spec"


def test_a_failed_build_phase_still_runs_finally_and_post_build(cloud):
    build = run(
        cloud,
        """
        version: 0.2
        env:
          exported-variables: [AFTER, IN_FINALLY, IN_POST]
        phases:
          build:
            commands:
              - exit 3
              - export AFTER=ran
            finally:
              - export IN_FINALLY=ran
          post_build:
            commands:
              - export IN_POST=$CODEBUILD_BUILD_SUCCEEDING
        """,
    )
    assert build["buildStatus"] == "FAILED"
    assert ("BUILD", "FAILED") in phases(build) and ("POST_BUILD", "SUCCEEDED") in phases(build)
    build_phase = next(p for p in build["phases"] if p["phaseType"] == "BUILD")
    assert build_phase["contexts"] == [
        {
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: exit 3. Reason: exit status 3",
        }
    ]
    exported = {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]}
    assert exported == {"AFTER": "", "IN_FINALLY": "ran", "IN_POST": "0"}


def test_an_aborted_install_phase_skips_the_build_and_uploads_nothing(cloud):
    build = run(
        cloud,
        "version: 0.2\nphases:\n  install:\n    commands: ['false']\n"
        "  build:\n    commands: [touch never]\n",
    )
    assert build["buildStatus"] == "FAILED"
    assert [p for p, _ in phases(build)] == [
        "SUBMITTED",
        "QUEUED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "FINALIZING",
        "COMPLETED",
    ]


def test_on_failure_continue_goes_on_to_the_next_phase_and_the_build_still_fails(cloud):
    build = run(
        cloud,
        """
        version: 0.2
        env: {exported-variables: [BUILT]}
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: ["false"]
          build:
            commands: [export BUILT=yes]
        """,
    )
    assert ("PRE_BUILD", "FAILED") in phases(build) and ("BUILD", "SUCCEEDED") in phases(build)
    assert build["exportedEnvironmentVariables"] == [{"name": "BUILT", "value": "yes"}]
    assert build["buildStatus"] == "FAILED"


def test_artifacts_are_zipped_from_the_base_directory_into_the_output_location(cloud):
    key = f"out/{uuid.uuid4().hex}.zip"
    build = run(
        cloud,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist/pkg/nested && echo a > dist/pkg/a.txt
              - echo b > dist/pkg/nested/b.txt && echo c > dist/skip.log
        artifacts:
          base-directory: dist
          files: ["pkg/**/*"]
        """,
        artifacts=(ArtifactOutput("BuildArtifact", BUCKET, key),),
    )
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{BUCKET}/{key}"
    body = cloud.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["pkg/a.txt", "pkg/nested/b.txt"]


def test_discard_paths_keeps_only_file_names(cloud):
    key = f"out/{uuid.uuid4().hex}.zip"
    run(
        cloud,
        """
        version: 0.2
        phases:
          build:
            commands: [mkdir -p a/b && echo 1 > a/b/one.txt && echo 2 > a/two.txt]
        artifacts:
          files: ["a/**/*.txt"]
          discard-paths: yes
        """,
        artifacts=(ArtifactOutput("BuildArtifact", BUCKET, key),),
    )
    body = cloud.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["one.txt", "two.txt"]


def test_no_matching_artifact_fails_the_upload_phase_with_a_client_error(cloud):
    build = run(
        cloud,
        "version: 0.2\nphases: {build: {commands: ['true']}}\nartifacts: {files: [missing.txt]}\n",
        artifacts=(ArtifactOutput("BuildArtifact", BUCKET, f"out/{uuid.uuid4().hex}.zip"),),
    )
    upload = next(p for p in build["phases"] if p["phaseType"] == "UPLOAD_ARTIFACTS")
    assert upload["phaseStatus"] == "FAILED"
    assert upload["contexts"][0]["statusCode"] == "CLIENT_ERROR"
    assert build["buildStatus"] == "FAILED"


def test_secondary_sources_are_unpacked_beside_the_primary(cloud):
    key = f"src/{uuid.uuid4().hex}.zip"
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=zipped({"extra.txt": "more"}))
    build = run(
        cloud,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        '      - test "$(cat $CODEBUILD_SRC_DIR_Extra/extra.txt)" = more\n',
        extra_sources=(SourceInput("Extra", BUCKET, key),),
    )
    assert build["buildStatus"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("runtimes", "message"),
    [
        (
            "{python: 3.8}",
            "Unknown runtime version named '3.8' of python. "
            "This build image has the following versions: 3.11",
        ),
        (
            "{nodejs: 20}",
            "Unknown runtime named 'nodejs'. This build image has the following runtimes: python",
        ),
    ],
)
def test_runtime_versions_the_twin_cannot_honour_are_refused_as_codebuild_refuses_them(
    cloud, runtimes, message
):
    build = run(
        cloud,
        f"version: 0.2\nphases:\n  install:\n    runtime-versions: {runtimes}\n"
        "    commands: ['true']\n",
    )
    download = next(p for p in build["phases"] if p["phaseType"] == "DOWNLOAD_SOURCE")
    assert download["phaseStatus"] == "FAILED"
    assert download["contexts"] == [{"statusCode": "YAML_FILE_ERROR", "message": message}]
    assert build["buildStatus"] == "FAILED"
    assert "INSTALL" not in [p for p, _ in phases(build)]


def test_python_311_is_the_runtime_the_build_gets(cloud):
    build = run(
        cloud,
        "version: 0.2\nphases:\n  install:\n    runtime-versions: {python: 3.11}\n"
        "    commands: ['python -c \"import sys; assert sys.version_info[:2] == (3, 11)\"']\n",
    )
    assert build["buildStatus"] == "SUCCEEDED"


def test_the_build_log_is_in_cloudwatch_logs_with_codebuilds_messages(cloud):
    build = run(cloud, "version: 0.2\nphases:\n  build:\n    commands: [echo hello-log, 'false']\n")
    lines = log_lines(cloud, build)
    assert build["logs"]["groupName"] == f"/aws/codebuild/{build['projectName']}"
    assert build["logs"]["streamName"] == build["id"].split(":", 1)[1]
    assert "hello-log" in lines
    assert any(line.endswith("Running command echo hello-log") for line in lines)
    assert any(line.endswith("Phase complete: BUILD State: FAILED") for line in lines)


def test_start_build_on_the_wire_runs_an_s3_source_and_batch_get_builds_reports_it(cloud):
    key = f"src/{uuid.uuid4().hex}.zip"
    spec = "version: 0.2\nphases:\n  build:\n    commands: [test -f data.txt]\n"
    cloud.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=zipped({"buildspec.yml": spec, "data.txt": "d"})
    )
    codebuild = cloud.client("codebuild")
    name = f"s3-{uuid.uuid4().hex[:8]}"
    codebuild.create_project(
        name=name,
        source={"type": "S3", "location": f"{BUCKET}/{key}"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/codebuild",
    )
    started = codebuild.start_build(projectName=name)["build"]
    assert started["buildStatus"] == "IN_PROGRESS"
    cloud.builds.wait(started["id"], 60)
    assert codebuild.batch_get_builds(ids=[started["id"], "nope:1"])["buildsNotFound"] == ["nope:1"]
    assert codebuild.batch_get_builds(ids=[started["id"]])["builds"][0]["buildStatus"] == (
        "SUCCEEDED"
    )
    assert codebuild.list_builds_for_project(projectName=name)["ids"] == [started["id"]]


def _sleeping_build(cloud: LocalCloud, runner: BuildRunner, marker: str):
    key = f"src/{uuid.uuid4().hex}.zip"
    spec = f"version: 0.2\nphases:\n  build:\n    commands: ['sleep 30 # {marker}']\n"
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=zipped({"buildspec.yml": spec}))
    return runner.start(
        BuildRequest(
            project=project(cloud),
            source_type="CODEPIPELINE",
            sources=(SourceInput("SourceArtifact", BUCKET, key),),
        )
    )


def test_stop_build_kills_the_running_command_and_ends_the_build_stopped(cloud):
    marker = f"stop-{uuid.uuid4().hex}"
    build = _sleeping_build(cloud, cloud.builds, marker)
    deadline = time.monotonic() + 20
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    cloud.client("codebuild").stop_build(id=build.id)
    cloud.builds.wait(build.id, 20)
    assert build.status == "STOPPED"
    assert ("BUILD", "STOPPED") in [(p["phaseType"], p.get("phaseStatus")) for p in build.phases]
    assert processes_with(marker) == []


def test_a_build_past_its_timeout_ends_timed_out(cloud, tmp_path):
    marker = f"timeout-{uuid.uuid4().hex}"
    with BuildRunner(
        cloud.account, cloud.region, cloud.client, tmp_path, cloud.url, {}, seconds_per_minute=0.02
    ) as runner:
        build = _sleeping_build(cloud, runner, marker)  # 60 minutes of 0.02 s = 1.2 s
        runner.wait(build.id, 20)
    assert build.status == "TIMED_OUT"
    assert processes_with(marker) == []


def test_uninstalling_the_runner_stops_running_builds_and_leaves_no_process(cloud, tmp_path):
    marker = f"shutdown-{uuid.uuid4().hex}"
    runner = BuildRunner(cloud.account, cloud.region, cloud.client, tmp_path, cloud.url, {})
    with runner:
        build = _sleeping_build(cloud, runner, marker)
        deadline = time.monotonic() + 20
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert build.done.is_set() and build.status == "STOPPED"
    assert processes_with(marker) == []


def test_contract_moto_keeps_projects_where_the_runner_reads_them(cloud):
    from moto.codebuild import responses
    from moto.codebuild.models import codebuild_backends

    name = project(cloud)  # CODEPIPELINE source and artifacts: no location, as AWS allows
    stored = codebuild_backends[cloud.account][cloud.region].codebuild_projects[name]
    assert stored.project_metadata["name"] == name, "moto's CodeBuild project store moved"
    for internal in ("_validate_required_params_source", "_validate_required_params_artifacts"):
        assert callable(getattr(responses, internal)), f"moto.codebuild.responses.{internal}"
