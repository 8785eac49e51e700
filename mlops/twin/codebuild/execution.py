"""What the CodeBuild platform does for one build, phase by phase ("Build phase transitions",
CodeBuild user guide): SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD,
BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED.

Transitions the twin follows:
- a failed INSTALL or PRE_BUILD ends the build (FINALIZING next) unless the phase says
  `on-failure: CONTINUE`, which goes on to the next phase; the build still ends FAILED;
- POST_BUILD runs after BUILD whether BUILD succeeded or not (CODEBUILD_BUILD_SUCCEEDING tells
  it), and "the UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails";
- a command failure skips the phase's remaining commands and runs its `finally` block;
- a stop or the timeout kills the running command and ends the build STOPPED / TIMED_OUT.
Messages are CodeBuild's: "Error while executing command: <cmd>. Reason: exit status <n>",
"Phase complete: BUILD State: FAILED", YAML_FILE_ERROR / COMMAND_EXECUTION_ERROR / CLIENT_ERROR.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from typing import Any

from mlops.twin.aws.timestamps import utcnow
from mlops.twin.codebuild import artifacts
from mlops.twin.codebuild.build import IMAGE, Build
from mlops.twin.codebuild.buildspec import (
    PHASES,
    Buildspec,
    BuildspecError,
    check_runtimes,
    parse_buildspec,
)
from mlops.twin.codebuild.shell import ShellSession

_RESERVED_PREFIX = "CODEBUILD_"


class BuildExecution:
    def __init__(
        self,
        build: Build,
        s3: Any,
        environment: Callable[[dict[str, str]], dict[str, str]],
        seconds_per_minute: float = 60.0,
    ) -> None:
        """`environment(variables)`: the process environment of the build image around the
        build's own variables (the twin's loopback endpoint and dummy credentials win)."""
        self.build, self.s3, self.environment = build, s3, environment
        self.src_dir = build.workdir / "src"
        self.session: ShellSession | None = None
        self._deadline = time.monotonic() + build.timeout_minutes * seconds_per_minute

    # -- the phase machine ---------------------------------------------------------------------
    def execute(self) -> None:
        build = self.build
        build.close_phase("SUCCEEDED")  # SUBMITTED, entered by StartBuild
        for phase in ("QUEUED", "PROVISIONING"):
            self._simple_phase(phase)
        spec = self._download_source()
        if spec is not None and not self._interrupted():
            self._run_phases(spec)
        self._simple_phase("FINALIZING")
        build.enter("COMPLETED")
        build.status = build.stop_reason or ("SUCCEEDED" if build.succeeding else "FAILED")
        build.end_time = utcnow()
        build.log.flush()

    def stop(self, reason: str) -> None:
        if self.build.stop_reason is None:
            self.build.stop_reason = reason
        if self.session is not None:
            self.session.stop()

    def _run_phases(self, spec: Buildspec) -> None:
        build, session = self.build, self._session(spec)
        aborted = False
        for name in PHASES:
            if self._interrupted():
                return
            if aborted and name != "post_build":
                continue
            if aborted and build.phase_status("BUILD") is None:
                return  # INSTALL or PRE_BUILD aborted: no POST_BUILD, no upload
            phase = spec.phases.get(name)
            ok = self._command_phase(name.upper(), phase, session)
            if self._interrupted():
                return
            if not ok and (phase is None or phase.on_failure == "ABORT"):
                aborted = True
        self._exported(spec, session)
        if build.phase_status("BUILD") is not None and not self._interrupted():
            self._upload_artifacts(spec)

    def _command_phase(self, phase_type: str, phase: Any, session: ShellSession) -> bool:
        build = self.build
        build.enter(phase_type)
        build.log.container(f"Entering phase {phase_type}")
        session.env["CODEBUILD_BUILD_SUCCEEDING"] = "1" if build.succeeding else "0"
        failure: tuple[str, str] | None = None
        for command in phase.commands if phase else ():
            failure = self._command(command, session)
            if failure:
                break
        for command in phase.finally_commands if phase else ():
            failure = self._command(command, session) or failure
        if self._interrupted():
            build.close_phase(build.stop_reason or "STOPPED")
            return False
        status = "FAILED" if failure else "SUCCEEDED"
        build.log.container(f"Phase complete: {phase_type} State: {status}")
        if failure:
            build.log.container(f"Phase context status code: {failure[0]} Message: {failure[1]}")
            build.close_phase(status, *failure)
        else:
            build.close_phase(status)
        build.log.flush()
        return failure is None

    def _command(self, command: str, session: ShellSession) -> tuple[str, str] | None:
        self.build.log.container(f"Running command {command}")
        remaining = max(0.1, self._deadline - time.monotonic())
        code = session.run(command, self.build.log.output, timeout_s=remaining)
        if code == -1 and time.monotonic() >= self._deadline:
            self.stop("TIMED_OUT")
        if code == 0:
            return None
        reason = "stopped" if code == -1 else f"exit status {code}"
        message = f"Error while executing command: {command}. Reason: {reason}"
        return "COMMAND_EXECUTION_ERROR", message

    # -- source, environment, artifacts ----------------------------------------------------------
    def _download_source(self) -> Buildspec | None:
        build = self.build
        build.enter("DOWNLOAD_SOURCE")
        build.log.container("Phase is DOWNLOAD_SOURCE")
        try:
            for index, source in enumerate(build.request.sources):
                target = self.src_dir if index == 0 else build.workdir / f"src_{source.name}"
                body = self.s3.get_object(Bucket=source.bucket, Key=source.key)["Body"].read()
                with zipfile.ZipFile(io.BytesIO(body)) as archive:
                    archive.extractall(target)
            self.src_dir.mkdir(parents=True, exist_ok=True)
            build.log.container(f"CODEBUILD_SRC_DIR={self.src_dir}")
            spec = parse_buildspec(self._buildspec_text())
            check_runtimes(spec.runtime_versions)
        except BuildspecError as error:
            return self._fail_download("YAML_FILE_ERROR", str(error))
        except (zipfile.BadZipFile, self.s3.exceptions.NoSuchKey) as error:
            return self._fail_download("CLIENT_ERROR", f"could not download source: {error}")
        for runtime, version in spec.runtime_versions.items():
            build.log.container(
                f"Selecting '{runtime}' runtime version '{version}' based on manual selections..."
            )
        build.resolved_source_version = (
            build.request.resolved_source_version or build.request.source_version
        )
        build.close_phase("SUCCEEDED")
        return spec

    def _fail_download(self, code: str, message: str) -> None:
        self.build.log.container("Phase complete: DOWNLOAD_SOURCE State: FAILED")
        self.build.log.container(f"Phase context status code: {code} Message: {message}")
        self.build.close_phase("FAILED", code, message)
        return None

    def _buildspec_text(self) -> str:
        spec = self.build.request.buildspec_override or (
            self.build.project.get("source", {}).get("buildspec") or "buildspec.yml"
        )
        if "\n" in spec or spec.lstrip().startswith("version"):
            return spec  # an inline buildspec
        path = self.src_dir / spec
        if not path.is_file():
            raise BuildspecError(f"YAML file does not exist: {spec}")
        return path.read_text(encoding="utf-8")

    def _session(self, spec: Buildspec) -> ShellSession:
        build, request = self.build, self.build.request
        env: dict[str, str] = dict(spec.variables)
        for variable in self.build.project.get("environment", {}).get("environmentVariables", []):
            env[variable["name"]] = str(variable["value"])
        for variable in request.environment_overrides:
            env[variable["name"]] = str(variable["value"])
        env = {k: v for k, v in env.items() if not k.startswith(_RESERVED_PREFIX)}
        home = build.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env |= {
            "HOME": str(home),
            "CODEBUILD_BUILD_ARN": build.arn,
            "CODEBUILD_BUILD_ID": build.id,
            "CODEBUILD_BUILD_NUMBER": str(build.number),
            "CODEBUILD_BUILD_IMAGE": self.build.project.get("environment", {}).get("image", IMAGE),
            "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_INITIATOR": request.initiator,
            "CODEBUILD_LOG_PATH": build.log.stream,
            "CODEBUILD_RESOLVED_SOURCE_VERSION": build.resolved_source_version or "",
            "CODEBUILD_SOURCE_VERSION": request.source_version or "",
            "CODEBUILD_SRC_DIR": str(self.src_dir),
            "CODEBUILD_START_TIME": str(int(build.start_time.timestamp() * 1000)),
        }
        for source in request.sources[1:]:
            env[f"CODEBUILD_SRC_DIR_{source.name}"] = str(build.workdir / f"src_{source.name}")
        env = self.environment(env)
        self.session = ShellSession(spec.shell, env, self.src_dir, build.workdir / "state")
        if build.stop_reason:
            self.session.stop()
        return self.session

    def _exported(self, spec: Buildspec, session: ShellSession) -> None:
        self.build.exported = [
            {"name": name, "value": session.env.get(name, "")} for name in spec.exported_variables
        ]

    def _upload_artifacts(self, spec: Buildspec) -> None:
        build = self.build
        build.enter("UPLOAD_ARTIFACTS")
        targets = {a.name: a for a in build.request.artifacts}
        wanted = []
        if build.request.artifacts and spec.artifacts is not None:
            wanted.append((spec.artifacts, build.request.artifacts[0]))
        for name, secondary in spec.secondary_artifacts.items():
            if name in targets:
                wanted.append((secondary, targets[name]))
        try:
            for artifact_spec, target in wanted:
                files = artifacts.collect(artifact_spec, self.src_dir)
                archive = artifacts.zip_files(files, build.workdir / "out" / f"{target.name}.zip")
                self.s3.upload_file(str(archive), target.bucket, target.key)
                build.log.container(
                    f"Uploaded {len(files)} file(s) to s3://{target.bucket}/{target.key}"
                )
            if wanted:
                build.artifact_location = f"arn:aws:s3:::{wanted[0][1].bucket}/{wanted[0][1].key}"
        except artifacts.ArtifactError as error:
            build.log.container(f"Phase context status code: CLIENT_ERROR Message: {error}")
            build.close_phase("FAILED", "CLIENT_ERROR", str(error))
            return
        build.close_phase("SUCCEEDED")

    # -- helpers -------------------------------------------------------------------------------
    def _simple_phase(self, phase_type: str) -> None:
        self.build.enter(phase_type)
        self.build.close_phase("SUCCEEDED")

    def _interrupted(self) -> bool:
        return self.build.stop_reason is not None
