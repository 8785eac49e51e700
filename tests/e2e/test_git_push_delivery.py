"""A git push reaches prod in the twin: codepipeline.yaml with the staging and prod app stacks
in one local cloud, a real `git push` to the connected repository, every stage running for
real (the pipeline updates itself, CodeBuild tests and packages, CloudFormation updates the
stacks in place, Step Functions retrains each stage, CodeBuild checks it, a manual approval).

One delivery serves the module (starting it and training both stages' first champions takes a
minute); BuildAndTest runs the pipeline's TestPaths narrowed to tests/unit/pipeline, so a run
takes minutes, not the ten a full unit and workflow suite would add per push. The repository
starts from an earlier, weaker training default (mlops/demo/git_push.py), which both stages'
champions were trained with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.cli import main
from mlops.demo.git_push import (
    ROOT,
    STAGE_PARAMETERS,
    clone,
    earlier_default,
    serving_ready,
    wait_for,
)
from mlops.twin.pipeline_stack import DeliveryStacks, start_delivery

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]
TEST_PATHS = "tests/unit/pipeline"
RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    stacks = start_delivery(
        edits={"template.yaml": earlier_default},
        stage_parameters=STAGE_PARAMETERS,
        TestPaths=TEST_PATHS,
    )
    try:
        data = (ROOT / "ml" / "data" / "breast_cancer.csv").read_bytes()
        for app in stacks.apps.values():
            app.upload_dataset("breast_cancer.csv", data)
        sqs = stacks.cloud.client("sqs")
        queue = sqs.create_queue(QueueName="delivery-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        stacks.cloud.client("sns").subscribe(
            TopicArn=stacks.pipeline.outputs["NotificationTopicArn"],
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
        )
        wait_for(lambda: serving_ready(stacks), 300, "both stages' first champions")
        git = clone(stacks, tmp_path_factory.mktemp("developer"))
        yield {"stacks": stacks, "git": git, "queue": queue, "seen": []}
    finally:
        stacks.close()


def executions(stacks: DeliveryStacks) -> list[dict[str, Any]]:
    return stacks.cloud.client("codepipeline").list_pipeline_executions(
        pipelineName=stacks.pipeline_name
    )["pipelineExecutionSummaries"]


def push(world: dict[str, Any], files: dict[str, str | Callable[[str], str]], message: str):
    """Commit `files` (new text, or a function of the old text) and push main; the commit and
    the execution it started (None if it started none) and git's output."""
    stacks, git = world["stacks"], world["git"]
    work = Path(git("rev-parse", "--show-toplevel").strip())
    for name, change in files.items():
        path = work / name
        path.write_text(change(path.read_text()) if callable(change) else change)
    git("add", "-A")
    git("commit", "-qm", message)
    before = {e["pipelineExecutionId"] for e in executions(stacks)}
    output = git("push", "origin", "main")
    commit = git("rev-parse", "HEAD").strip()
    started = [e for e in executions(stacks) if e["pipelineExecutionId"] not in before]
    return commit, (started[0]["pipelineExecutionId"] if started else None), output


def stack_parameter(stacks: DeliveryStacks, stack: str, key: str) -> str:
    described = stacks.cloud.client("cloudformation").describe_stacks(StackName=stack)
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Stacks"][0]["Parameters"]}[
        key
    ]


def actions(stacks: DeliveryStacks, execution: str) -> dict[str, dict[str, Any]]:
    details = stacks.cloud.client("codepipeline").list_action_executions(
        pipelineName=stacks.pipeline_name, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    return {d["actionName"]: d for d in sorted(details, key=lambda d: d["startTime"])}


def notices(world: dict[str, Any], execution: str) -> list[dict[str, Any]]:
    sqs = world["stacks"].cloud.client("sqs")
    while batch := sqs.receive_message(QueueUrl=world["queue"], MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            world["seen"].append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=world["queue"], ReceiptHandle=message["ReceiptHandle"])
    return [n for n in world["seen"] if n.get("execution_id") == execution]


def waiting_approval(stacks: DeliveryStacks, execution: str) -> dict[str, Any] | None:
    state = stacks.cloud.client("codepipeline").get_pipeline_state(name=stacks.pipeline_name)
    approve = next(s for s in state["stageStates"] if s["stageName"] == "ApproveProduction")
    latest = approve["actionStates"][0].get("latestExecution") or {}
    stage_execution = (approve.get("latestExecution") or {}).get("pipelineExecutionId")
    if stage_execution == execution and latest.get("status") == "InProgress":
        return latest
    return None


def registered_version(stacks: DeliveryStacks, stage: str, commit: str) -> dict[str, Any] | None:
    sagemaker = stacks.cloud.client("sagemaker")
    group = stacks.apps[stage].outputs["ModelPackageGroupName"]
    for summary in sagemaker.list_model_packages(ModelPackageGroupName=group)[
        "ModelPackageSummaryList"
    ]:
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package.get("CustomerMetadataProperties", {}).get("code_version") == commit:
            return package
    return None


def test_a_push_that_touches_only_the_readme_starts_nothing(delivery):
    _, started, output = push(delivery, {"README.md": lambda t: t + "\nA note.\n"}, "docs only")
    assert started is None
    assert "nothing starts" in output


def test_a_push_to_another_branch_starts_nothing(delivery):
    stacks, git = delivery["stacks"], delivery["git"]
    before = len(executions(stacks))
    git("checkout", "-q", "-b", "feature")
    git("commit", "-q", "--allow-empty", "-m", "work in progress")
    (Path(git("rev-parse", "--show-toplevel").strip()) / "ml" / "wip.txt").write_text("wip\n")
    git("add", "-A")
    git("commit", "-q", "-m", "ml work in progress")
    git("push", "-q", "origin", "feature")
    git("checkout", "-q", "main")
    time.sleep(1)
    assert len(executions(stacks)) == before


def test_a_commit_that_breaks_a_unit_test_fails_build_and_test_deploys_nothing_and_notifies(
    delivery,
):
    stacks = delivery["stacks"]
    staged = stack_parameter(stacks, "mlops-staging", "CodeVersion")
    broken = 'values | {"CodeVersion": code_version}'
    commit, execution, _ = push(
        delivery,
        {"pipeline/stage_config.py": lambda t: t.replace(broken, "values")},
        "Forget the commit in the stage configuration",
    )
    assert execution is not None
    assert stacks.cloud.delivery.pipelines.wait(stacks.pipeline_name, execution, 600) == "Failed"

    done = actions(stacks, execution)
    assert done["BuildAndTest"]["status"] == "Failed"
    assert "DeployStaging" not in done
    assert stack_parameter(stacks, "mlops-staging", "CodeVersion") == staged
    failed = wait_for_notice(delivery, execution, "FAILED")
    assert failed["failed_action"]["stage"] == failed["failed_action"]["action"] == "BuildAndTest"
    assert "BuildAndTest" in failed["summary"] and commit[:7] in failed["summary"]
    delivery["git"]("revert", "--no-edit", "HEAD")  # the next push carries the fix


def wait_for_notice(world: dict[str, Any], execution: str, state: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [n for n in notices(world, execution) if n.get("state") == state]
        return bool(found)

    wait_for(check, 60, f"a {state} notification of {execution}")
    return found[0]


def cli(cloud: Any, *argv: str) -> int:
    target = ["--stack-name", "mlops-delivery", "--endpoint-url", cloud.url]
    return main([*argv, *target, "--region", cloud.region])


def test_a_push_changing_a_training_default_reaches_prod_and_a_second_push_queues_behind_it(
    delivery, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stacks, cloud = delivery["stacks"], delivery["stacks"].cloud
    name = stacks.pipeline_name
    project_template = (ROOT / "template.yaml").read_text()
    commit, first, _ = push(
        delivery,
        {"template.yaml": project_template},
        "Train rf, gb and linear candidates by default",
    )
    assert first is not None
    wait_for_approval(stacks, first)

    # Staging: updated with the commit as code version, retrained, checked.
    assert stack_parameter(stacks, "mlops-staging", "CodeVersion") == commit
    assert stack_parameter(stacks, "mlops-prod", "CodeVersion") != commit
    staging = registered_version(stacks, "staging", commit)
    assert staging is not None, "staging's retrain registered a version of the commit"
    lineage = staging["CustomerMetadataProperties"]
    assert lineage["trigger"] == "retrain" and lineage["requested_by"].startswith("codepipeline/")
    approval = waiting_approval(stacks, first)
    assert commit in approval["summary"] and "staging: Registered" in approval["summary"]

    # A second push while the first waits: it runs the stages the first has left, and queues
    # at the approval the first holds.
    second_commit, second, _ = push(
        delivery, {"ml/NOTES.txt": "Candidates: rf, gb, linear.\n"}, "Note the candidates"
    )
    assert second is not None
    wait_for(
        lambda: any(
            r.id == second for r in cloud.delivery.pipelines.waiting(name, "ApproveProduction")
        ),
        RUN_TIMEOUT,
        "the second execution to queue at the approval",
    )
    assert waiting_approval(stacks, first) is not None

    # The CLI shows the approval waiting; approved through it, prod is updated and retrained
    # on its own data.
    capsys.readouterr()
    assert cli(cloud, "pipeline", "status", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["approval"]["execution_id"] == first
    assert shown["approval"]["summary"] == approval["summary"]
    assert {e["execution_id"]: e["commit"] for e in shown["executions"]}[first] == commit
    assert cli(cloud, "pipeline", "approve", "--reason", "staging registered the commit") == 0
    assert cloud.delivery.pipelines.wait(name, first, RUN_TIMEOUT) == "Succeeded"
    assert stack_parameter(stacks, "mlops-prod", "CodeVersion") == commit
    prod = registered_version(stacks, "prod", commit)
    assert prod is not None
    assert prod["CustomerMetadataProperties"].get("champion_score"), "it met prod's champion"
    check = actions(stacks, first)["CheckProd"]["output"]["outputVariables"]
    assert check["OUTCOME"] == "Registered" and commit[:7] in check["SUMMARY"]

    # The queued execution gets the approval next; rejected, it leaves prod untouched.
    token = wait_for_approval(stacks, second)
    cloud.client("codepipeline").put_approval_result(
        pipelineName=name,
        stageName="ApproveProduction",
        actionName="ApproveProduction",
        token=token,
        result={"status": "Rejected", "summary": "not this one"},
    )
    assert cloud.delivery.pipelines.wait(name, second, 120) == "Failed"
    assert stack_parameter(stacks, "mlops-prod", "CodeVersion") == commit
    assert stack_parameter(stacks, "mlops-staging", "CodeVersion") == second_commit
    assert "DeployProd" not in actions(stacks, second)


def wait_for_approval(stacks: DeliveryStacks, execution: str) -> str:
    """The approval token once `execution` waits for it; fails at once if it ended before."""
    found: list[str] = []
    ended: list[dict[str, Any]] = []

    def check() -> bool:
        latest = waiting_approval(stacks, execution)
        if latest and latest.get("token"):
            found.append(latest["token"])
        run = next(e for e in executions(stacks) if e["pipelineExecutionId"] == execution)
        if run["status"] != "InProgress":
            ended.append(run)
        return bool(found or ended)

    wait_for(check, RUN_TIMEOUT, f"the approval of {execution}")
    assert found, f"{execution} ended {ended[0]['status']}: {ended[0].get('statusSummary')}"
    return found[0]
