"""The twin's CodeBuild seam: StartBuild runs the build for real, in the background, as local
processes in a workspace of its own (no Docker), and BatchGetBuilds reports its phases.

Projects stay in moto (CreateProject, BatchGetProjects); the runner reads them from moto's
CodeBuildBackend.codebuild_projects[name].project_metadata (the dict BatchGetProjects answers).
Build processes see the twin's loopback endpoint and dummy credentials only (the environment
helper the SageMaker job containers use).
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from moto.codebuild.models import codebuild_backends

from mlops.twin.aws.arns import arn
from mlops.twin.aws.responses import AwsError
from mlops.twin.aws.timestamps import utcnow
from mlops.twin.codebuild.build import TERMINAL, Build, BuildRequest
from mlops.twin.codebuild.execution import BuildExecution
from mlops.twin.codebuild.logs import BuildLog
from mlops.twin.codebuild.shell import base_path
from mlops.twin.sagemaker.jobs.common import container_env
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)
# `make install` downloads the CommonLayer's wheels here (Makefile), so `sam build` of the
# layer works in a build whose pip has no index.
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
DEFAULT_TIMEOUT_MINUTES = 60


class BuildRunner(Seam):
    def __init__(
        self,
        account: str,
        region: str,
        client: Callable[[str], Any],
        work_root: Path,
        endpoint_url: str,
        base_env: dict[str, str],
        max_parallel: int = 4,
        seconds_per_minute: float = 60.0,
    ) -> None:
        """`seconds_per_minute`: real seconds in a minute of build timeout (tests shorten it;
        the twin keeps 60, so a build has the real time its project allows)."""
        self.account, self.region = account, region
        self._client = client
        self._work_root = Path(work_root)
        self._endpoint, self._base_env = endpoint_url, dict(base_env)
        self._lock = threading.Lock()
        self._builds: dict[str, Build] = {}
        self._executions: dict[str, BuildExecution] = {}
        self._numbers: dict[str, int] = {}
        self._seconds_per_minute = seconds_per_minute
        self._closed = False
        self._pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="twin-codebuild")

    # -- API -------------------------------------------------------------------------------------
    def start(self, request: BuildRequest) -> Build:
        project = self.project(request.project)
        build_uuid = str(uuid.uuid4())
        build_id = f"{request.project}:{build_uuid}"
        logs_config = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        if logs_config.get("status") == "DISABLED":
            raise AwsError("The twin logs every build to CloudWatch Logs", "InvalidInputException")
        group = logs_config.get("groupName") or f"/aws/codebuild/{request.project}"
        stream = "/".join(filter(None, [logs_config.get("streamName"), build_uuid]))
        timeout = request.timeout_minutes or project.get("timeoutInMinutes")
        with self._lock:
            if self._closed:
                raise AwsError("The twin's CodeBuild is shut down", "AccountLimitExceededException")
            number = self._numbers.get(request.project, 0) + 1
            self._numbers[request.project] = number
            build = Build(
                id=build_id,
                arn=arn("codebuild", self.region, self.account, f"build/{build_id}"),
                number=number,
                request=request,
                project=project,
                workdir=self._work_root / request.project / build_uuid,
                log=BuildLog(lambda: self._client("logs"), group, stream),
                timeout_minutes=int(timeout or DEFAULT_TIMEOUT_MINUTES),
            )
            build.enter("SUBMITTED")
            execution = BuildExecution(
                build, self._client("s3"), self._environment, self._seconds_per_minute
            )
            self._builds[build_id] = build
            self._executions[build_id] = execution
        self._pool.submit(self._run, execution)
        return build

    def project(self, name: str) -> dict[str, Any]:
        projects = codebuild_backends[self.account][self.region].codebuild_projects
        key = name.rsplit("/", 1)[-1] if name.startswith("arn:") else name
        if key not in projects:
            raise AwsError(f"Project cannot be found: {name}", "ResourceNotFoundException")
        return projects[key].project_metadata

    def get(self, build_id: str) -> Build | None:
        with self._lock:
            return self._builds.get(build_id)

    def builds(self, project: str | None = None) -> list[Build]:
        """Newest first, as ListBuilds sorts by default (DESCENDING)."""
        with self._lock:
            found = [b for b in self._builds.values() if project in (None, b.request.project)]
        return sorted(found, key=lambda b: b.start_time, reverse=True)

    def stop(self, build_id: str) -> Build:
        with self._lock:
            build, execution = self._builds.get(build_id), self._executions.get(build_id)
        if build is None or execution is None:
            raise AwsError(f"Build {build_id} does not exist", "ResourceNotFoundException")
        if build.status == "IN_PROGRESS":
            execution.stop("STOPPED")
        return build

    def wait(self, build_id: str, timeout: float) -> Build:
        build = self.get(build_id)
        if build is None:
            raise KeyError(build_id)
        build.done.wait(timeout)
        return build

    # -- seam ------------------------------------------------------------------------------------
    def install(self) -> None:
        """Nothing to start: a build starts on StartBuild."""

    def uninstall(self) -> None:
        """Stop every running build and join the build threads."""
        with self._lock:
            self._closed = True
            running = [e for e in self._executions.values() if e.build.status not in TERMINAL]
        for execution in running:
            execution.stop("STOPPED")
        self._pool.shutdown(wait=True, cancel_futures=False)

    # -- internals -------------------------------------------------------------------------------
    def _run(self, execution: BuildExecution) -> None:
        build = execution.build
        try:
            if build.workdir.exists():
                shutil.rmtree(build.workdir)
            build.workdir.mkdir(parents=True)
            execution.execute()
        except Exception as error:  # noqa: BLE001 - a twin bug must still end the build
            log.exception("twin build %s crashed", build.id)
            build.log.container(f"Phase context status code: FAULT Message: {error}")
            build.status, build.end_time = "FAULT", utcnow()
        finally:
            try:
                build.log.flush()
            except Exception:  # noqa: BLE001 - the twin may be stopping underneath
                log.debug("could not send the last log lines of %s", build.id)
            build.done.set()

    def _environment(self, variables: dict[str, str]) -> dict[str, str]:
        extra = {"PATH": base_path(str(Path(sys.executable).parent))} | variables
        env = container_env(self._base_env, self._endpoint, self.region, extra)
        if WHEELHOUSE.is_dir() and "PIP_FIND_LINKS" not in variables:  # pip is offline
            env["PIP_FIND_LINKS"] = str(WHEELHOUSE)
        return env
