"""`mlops local demo --scenario git-push`: a git push reaches prod, offline and for real.

The repository's main holds the project with an earlier, weaker training default (one small
random forest); both stages train their champion from it on their own data. The developer's
push makes the default the project's candidates (random forest, gradient boosting, linear):
the pipeline updates itself, tests and packages the commit, updates staging with the commit as
code version, retrains staging, waits for the approval (given here as `mlops pipeline
approve` gives it), updates prod and retrains prod, whose challenger meets prod's champion.
Each stage's time is printed, and what prod serves at the end."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.control.aws import AwsTarget
from mlops.control.pipeline import Pipeline
from mlops.twin.cloud import CREDENTIALS, TIME_SCALE, describe_clock
from mlops.twin.pipeline_stack import GIT_IDENTITY, DeliveryStacks, start_delivery

ROOT = Path(__file__).resolve().parents[2]
EARLIER_CANDIDATES = (
    '[{"name": "rf", "algorithm": "random_forest", "hyperparameters": '
    '{"n_estimators": 2, "max_depth": 1}}]'
)
DATASET = "breast_cancer.csv"
# The earlier default scores about 0.85-0.89 (f1) on breast_cancer: a floor of 0.8 lets it be
# the stages' first champion, which the project's candidates (0.93-0.97) then beat.
STAGE_PARAMETERS = {"MinimumMetric": "0.8"}


def earlier_default(template: str) -> str:
    """template.yaml with the weaker CandidateConfigs default the repository starts from."""
    head = template.index("  CandidateConfigs:")
    start = template.index("    Default: >-\n", head) + len("    Default: >-\n")
    end = template.index("    Description:", start)
    return template[:start] + f"      {EARLIER_CANDIDATES}\n" + template[end:]


@dataclass
class StageClock:
    """When each pipeline stage started and ended (first seen InProgress, first seen ended)."""

    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)

    def observe(self, stages: list[dict[str, Any]], execution_id: str, now: float) -> list[str]:
        """Record the stages of `execution_id`; the lines worth printing about changes."""
        lines = []
        for stage in stages:
            name, status = stage["stage"], stage["status"]
            if stage["execution_id"] != execution_id or status is None:
                continue
            if name not in self.started:
                self.started[name] = now
                lines.append(f"  {name} started")
            if status != "InProgress" and name not in self.ended:
                self.ended[name] = now
                self.status[name] = status
                lines.append(f"  {name} {status} in {now - self.started[name]:.1f}s")
        return lines

    def table(self) -> list[tuple[str, str, float]]:
        return [
            (name, self.status.get(name, "InProgress"), self.ended.get(name, 0) - start)
            for name, start in self.started.items()
        ]


def clone(delivery: DeliveryStacks, work: Path) -> Callable[..., str]:
    """A developer's clone of the connected repository; returns its git runner."""
    env = {**os.environ, **GIT_IDENTITY, "HOME": str(work)}
    subprocess.run(
        ["git", "clone", "-q", str(delivery.repository.path), str(work / "mlops")],
        check=True,
        env=env,
    )

    def run(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(work / "mlops"), *args],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        return done.stdout + done.stderr

    return run


def serving_ready(delivery: DeliveryStacks) -> bool:
    sagemaker = delivery.cloud.client("sagemaker")
    for app in delivery.apps.values():
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=app.outputs["EndpointName"])
        except sagemaker.exceptions.ClientError:
            return False
        if endpoint["EndpointStatus"] != "InService":
            return False
    return True


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(1)


# BuildAndTest scaled for the demo, as in the e2e tests: the pipeline scripts' unit tests
# (`mlops local up --with-pipeline` keeps the default, the unit and workflow suites).
DEMO_TEST_PATHS = "tests/unit/pipeline"


def run_git_push(timeout: float = 1800.0, **pipeline_parameters: str) -> int:
    begun = time.monotonic()
    for key, value in CREDENTIALS.items():  # mlops reads the twin as any AWS client does
        os.environ.setdefault(key, value)
    print("mlops twin: the delivery pipeline, staging and prod in one local cloud ...")
    delivery = start_delivery(
        edits={"template.yaml": earlier_default},
        stage_parameters=STAGE_PARAMETERS,
        **({"TestPaths": DEMO_TEST_PATHS} | pipeline_parameters),
    )
    try:
        print(
            f"  up in {time.monotonic() - begun:.1f}s at {delivery.cloud.url}; "
            f"clock: {describe_clock(TIME_SCALE)}"
        )
        print(f"  pipeline {delivery.pipeline_name}; {delivery.git_remote_command()}")
        data = (ROOT / "ml" / "data" / DATASET).read_bytes()
        for stage, app in delivery.apps.items():
            app.upload_dataset(DATASET, data)
            print(f"  {stage}: {DATASET} uploaded; training its first champion ...")
        champions = time.monotonic()
        wait_for(lambda: serving_ready(delivery), timeout, "both stages to serve a champion")
        print(f"  both stages serve a champion after {time.monotonic() - champions:.1f}s")
        return _push_and_follow(delivery, timeout, delivery.cloud.work_dir / "dev")
    finally:
        delivery.close()


def _push_and_follow(delivery: DeliveryStacks, timeout: float, work: Path) -> int:
    work.mkdir(parents=True, exist_ok=True)
    git = clone(delivery, work)
    # The project's template.yaml: its default trains rf, gb and linear candidates.
    (work / "mlops" / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    git("commit", "-qam", "Train rf, gb and linear candidates by default")
    commit = git("rev-parse", "HEAD").strip()
    print(f"\ngit push: {commit[:8]} Train rf, gb and linear candidates by default")
    pushed = time.monotonic()
    for line in git("push", "-q", "origin", "main").splitlines():
        if line.strip():
            print(f"  {line.strip()}")
    pipeline = Pipeline(
        AwsTarget(None, delivery.cloud.region, delivery.cloud.url), delivery.pipeline_name
    )
    execution = pipeline.executions(1)[0]["execution_id"]
    clock = StageClock()
    approved = False
    while True:
        now = time.monotonic() - pushed
        for line in clock.observe(pipeline.stages(), execution, now):
            print(f"{now:7.1f}s{line}")
        approval = pipeline.waiting_approval()
        if approval and approval.execution_id == execution and not approved:
            print(f"         approval waiting: {approval.summary}")
            pipeline.decide(True, "staging figures look right (mlops pipeline approve)")
            print("         approved (as `mlops pipeline approve --reason ...` does)")
            approved = True
        status = pipeline.executions(1)[0]
        if status["execution_id"] == execution and status["status"] != "InProgress":
            break
        if now > timeout:
            print(f"timed out after {timeout:.0f}s")
            return 1
        time.sleep(1)
    print(f"\npipeline {status['status']} in {time.monotonic() - pushed:.1f}s after the push")
    if status["summary"]:
        print(f"  {status['summary']}")
        print(_failed_build_log(delivery, execution))
    print("per stage (seconds):")
    for name, stage_status, seconds in clock.table():
        print(f"  {name:<18} {stage_status:<10} {seconds:7.1f}")
    print(_serving(delivery, commit))
    return 0 if status["status"] == "Succeeded" else 1


def _serving(delivery: DeliveryStacks, commit: str) -> str:
    from mlops.control.plane import ControlPlane
    from mlops.control.versions import list_versions

    lines = []
    for stage, app in delivery.apps.items():
        plane = ControlPlane.connect(
            AwsTarget(None, delivery.cloud.region, delivery.cloud.url), app.stack.name
        )
        versions = list_versions(plane)
        live = next((v for v in versions if v.live), None)
        if live is None:
            lines.append(f"{stage}: nothing served")
            continue
        code = live.lineage.get("code_version")
        built = f"the pushed commit {commit[:8]}" if code == commit else f"code version {code}"
        score = f"{live.lineage.get('metric')} {live.lineage.get('score')}"
        lines.append(f"{stage} serves v{live.version}, trained with {built} ({score})")
    return "\n".join(lines)


def _failed_build_log(delivery: DeliveryStacks, execution: str, lines: int = 15) -> str:
    """The end of the failed build's log (CloudWatch Logs), when a CodeBuild action failed."""
    cloud = delivery.cloud
    details = cloud.client("codepipeline").list_action_executions(
        pipelineName=delivery.pipeline_name, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    for detail in details:
        build_id = detail["output"].get("executionResult", {}).get("externalExecutionId", "")
        if detail["status"] != "Failed" or detail["input"]["actionTypeId"]["provider"] != (
            "CodeBuild"
        ):
            continue
        build = cloud.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
        events = cloud.client("logs").get_log_events(
            logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
        )["events"]
        return "\n".join("    | " + e["message"].rstrip() for e in events[-lines:])
    return ""
