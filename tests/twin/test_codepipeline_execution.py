"""CodePipeline executions in the twin: stage and action order (RunOrder, parallel actions),
artifacts and variables passed between actions, failures that stop a stage, the documented
statuses in GetPipelineState / ListActionExecutions, and the aws.codepipeline events on the
default bus (CodePipeline user guide: "Pipeline structure reference", "Variables reference",
"Monitoring CodePipeline events")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from delivery_world import DeliveryWorld, approval_action, build_action, source_action, wait_for

from mlops.twin.cloud import LocalCloud


@pytest.fixture(scope="module")
def world(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> DeliveryWorld:
    return DeliveryWorld(local_cloud, tmp_path_factory.mktemp("delivery"))


def timing_spec(label: str, seconds: float = 0.0) -> str:
    """A build that exports when it started and ended (seconds since the epoch)."""
    return (
        "version: 0.2\nenv:\n  exported-variables: [STARTED, ENDED]\nphases:\n  build:\n"
        "    commands:\n      - export STARTED=$(date +%s.%N)\n"
        f"      - sleep {seconds}\n      - export ENDED=$(date +%s.%N)\n"
        f"      - echo {label}\n"
    )


def window(action: dict) -> tuple[float, float]:
    variables = action["output"]["outputVariables"]
    return float(variables["STARTED"]), float(variables["ENDED"])


@pytest.fixture
def pushed(world: DeliveryWorld) -> Iterator:
    """push(stages, files) -> (pipeline name, execution id): a pipeline on a fresh repository
    and the execution a push to main started."""

    def push(stages_after_source: list[dict], files: dict[str, str] | None = None, **kw):
        repository_id, clone = world.clone()
        stages = [{"name": "Source", "actions": [source_action(world, repository_id)]}]
        name = world.pipeline(stages + stages_after_source, **kw)
        clone.commit(files or {"app.py": "print('hi')\n"}, "a change")
        clone.push()
        return name, world.latest(name)["pipelineExecutionId"]

    yield push


def test_actions_with_the_same_run_order_run_in_parallel_and_the_next_run_order_waits(
    world, pushed
):
    first, second, third = (world.project(timing_spec(n, 1.0)) for n in ("a", "b", "c"))
    name, execution = pushed(
        [
            {
                "name": "Build",
                "actions": [
                    build_action("A", first, runOrder=1),
                    build_action("B", second, runOrder=1),
                    build_action("C", third, runOrder=2),
                ],
            }
        ]
    )
    assert world.wait(name, execution) == "Succeeded"
    actions = world.actions(name, execution)
    (a_start, a_end), (b_start, b_end) = window(actions["A"]), window(actions["B"])
    c_start, _ = window(actions["C"])
    assert a_start < b_end and b_start < a_end, "run order 1 actions did not overlap"
    assert c_start > max(a_end, b_end), "run order 2 started before run order 1 ended"


def test_a_failed_action_fails_its_stage_and_the_pipeline_and_later_run_orders_never_start(
    world, pushed
):
    failing = world.project("version: 0.2\nphases:\n  build:\n    commands: ['exit 2']\n")
    later = world.project(timing_spec("never"))
    name, execution = pushed(
        [
            {
                "name": "Build",
                "actions": [
                    build_action("Fails", failing),
                    build_action("Later", later, runOrder=2),
                ],
            },
            {"name": "After", "actions": [build_action("Never", later)]},
        ]
    )
    assert world.wait(name, execution) == "Failed"
    actions = world.actions(name, execution)
    assert set(actions) == {"Source", "Fails"}
    failed = actions["Fails"]["output"]["executionResult"]
    assert failed["externalExecutionSummary"] == "Build terminated with state: FAILED"
    assert "Phase: BUILD, Code: COMMAND_EXECUTION_ERROR" in failed["errorDetails"]["message"]
    execution_record = world.cloud.client("codepipeline").get_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution
    )["pipelineExecution"]
    assert execution_record["statusSummary"].startswith("Action Fails in stage Build:")
    states = {
        s["stageName"]: s
        for s in world.cloud.client("codepipeline").get_pipeline_state(name=name)["stageStates"]
    }
    assert states["Build"]["latestExecution"] == {
        "pipelineExecutionId": execution,
        "status": "Failed",
        "type": "STANDARD",
    }
    assert "latestExecution" not in states["After"]  # no execution ever entered it


def test_output_artifacts_and_variables_reach_the_actions_after_them(world, pushed):
    producer = world.project(
        "version: 0.2\nenv:\n  exported-variables: [PRODUCED]\nphases:\n  build:\n"
        "    commands: [mkdir -p out, echo made-by-a > out/made.txt, export PRODUCED=yes]\n"
        "artifacts:\n  base-directory: out\n  files: ['**/*']\n"
    )
    consumer = world.project(
        "version: 0.2\nenv:\n  exported-variables: [SEEN, COMMIT, FROM_A, EXECUTION]\n"
        "phases:\n  build:\n    commands:\n"
        '      - export SEEN="$(cat $CODEBUILD_SRC_DIR_Made/made.txt)" COMMIT="$GIVEN_COMMIT"\n'
        '      - export FROM_A="$GIVEN_A" EXECUTION="$GIVEN_EXECUTION"\n'
    )
    environment = (
        '[{"name": "GIVEN_COMMIT", "value": "#{SourceVariables.CommitId}"},'
        ' {"name": "GIVEN_A", "value": "#{ProducerVariables.PRODUCED}"},'
        ' {"name": "GIVEN_EXECUTION", "value": "#{codepipeline.PipelineExecutionId}"}]'
    )
    name, execution = pushed(
        [
            {
                "name": "Build",
                "actions": [
                    build_action(
                        "Producer",
                        producer,
                        namespace="ProducerVariables",
                        outputArtifacts=[{"name": "Made"}],
                    ),
                    build_action(
                        "Consumer",
                        consumer,
                        runOrder=2,
                        inputArtifacts=[{"name": "SourceArtifact"}, {"name": "Made"}],
                        configuration={
                            "PrimarySource": "SourceArtifact",
                            "EnvironmentVariables": environment,
                        },
                    ),
                ],
            }
        ]
    )
    assert world.wait(name, execution) == "Succeeded"
    actions = world.actions(name, execution)
    commit = actions["Source"]["output"]["outputVariables"]["CommitId"]
    assert actions["Consumer"]["output"]["outputVariables"] == {
        "SEEN": "made-by-a",
        "COMMIT": commit,
        "FROM_A": "yes",
        "EXECUTION": execution,
    }
    made = actions["Producer"]["output"]["outputArtifacts"][0]["s3location"]
    assert made["bucket"] == world.bucket and made["key"].startswith(f"{name[:20]}/Made/")
    resolved = actions["Consumer"]["input"]["resolvedConfiguration"]["EnvironmentVariables"]
    assert commit in resolved and "#{" not in resolved


def test_a_variable_nothing_produced_fails_the_action_naming_it(world, pushed):
    project = world.project(timing_spec("x"))
    environment = '[{"name": "X", "value": "#{Nowhere.Thing}"}]'
    name, execution = pushed(
        [
            {
                "name": "Build",
                "actions": [
                    build_action(
                        "Uses", project, configuration={"EnvironmentVariables": environment}
                    )
                ],
            }
        ]
    )
    assert world.wait(name, execution) == "Failed"
    result = world.actions(name, execution)["Uses"]["output"]["executionResult"]
    assert "#{Nowhere.Thing}" in result["errorDetails"]["message"]


def test_an_action_type_the_twin_cannot_run_fails_with_a_summary_saying_so(world, pushed):
    name, execution = pushed(
        [
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "ToEcs",
                        "actionTypeId": {
                            "category": "Deploy",
                            "owner": "AWS",
                            "provider": "ECS",
                            "version": "1",
                        },
                        "inputArtifacts": [{"name": "SourceArtifact"}],
                        "configuration": {"ClusterName": "c", "ServiceName": "s"},
                    }
                ],
            }
        ]
    )
    assert world.wait(name, execution) == "Failed"
    result = world.actions(name, execution)["ToEcs"]["output"]["executionResult"]
    assert result["errorDetails"] == {
        "code": "ActionTypeNotSupported",
        "message": "The twin has no action provider for AWS/Deploy/ECS (version 1)",
    }


def test_state_changes_reach_the_default_bus_in_codepipelines_event_shapes(world, pushed):
    failing = world.project("version: 0.2\nphases:\n  build:\n    commands: ['false']\n")
    name, execution = pushed([{"name": "Build", "actions": [build_action("Compile", failing)]}])
    assert world.wait(name, execution) == "Failed"
    expected = [
        ("CodePipeline Pipeline Execution State Change", None, None, "STARTED"),
        ("CodePipeline Stage Execution State Change", "Source", None, "STARTED"),
        ("CodePipeline Action Execution State Change", "Source", "Source", "STARTED"),
        ("CodePipeline Action Execution State Change", "Source", "Source", "SUCCEEDED"),
        ("CodePipeline Stage Execution State Change", "Source", None, "SUCCEEDED"),
        ("CodePipeline Stage Execution State Change", "Build", None, "STARTED"),
        ("CodePipeline Action Execution State Change", "Build", "Compile", "STARTED"),
        ("CodePipeline Action Execution State Change", "Build", "Compile", "FAILED"),
        ("CodePipeline Stage Execution State Change", "Build", None, "FAILED"),
        ("CodePipeline Pipeline Execution State Change", None, None, "FAILED"),
    ]

    def seen():
        received = world.received_events(execution)
        return received if len(received) >= len(expected) else None

    received = wait_for(seen, what="the execution's events")
    assert [(t, d.get("stage"), d.get("action"), d["state"]) for t, d in received] == expected
    started, failed_action = received[0][1], received[7][1]
    assert started["pipeline"] == name and started["execution-trigger"] == {
        "trigger-type": "Webhook",  # no trigger declared: default change detection on main
        "trigger-detail": world.connection,
    }
    assert failed_action["type"] == {
        "category": "Build",
        "owner": "AWS",
        "provider": "CodeBuild",
        "version": "1",
    }
    assert failed_action["execution-result"]["error-code"] == "JobFailed"
    assert failed_action["execution-result"]["external-execution-summary"] == (
        "Build terminated with state: FAILED"
    )
    assert failed_action["execution-result"]["external-execution-id"].startswith(failing + ":")


def test_get_pipeline_state_shows_the_waiting_approval_with_its_token(world, pushed):
    name, execution = pushed([{"name": "Approval", "actions": [approval_action(world)]}])
    token = world.approval_token(name, "Approval", "Approve")
    state = world.cloud.client("codepipeline").get_pipeline_state(name=name)
    approval = state["stageStates"][1]
    assert approval["latestExecution"]["status"] == "InProgress"
    latest = approval["actionStates"][0]["latestExecution"]
    assert latest["status"] == "InProgress" and latest["token"] == token
    source = state["stageStates"][0]["actionStates"][0]
    assert source["latestExecution"]["status"] == "Succeeded"
    assert (
        source["currentRevision"]["revisionId"] == source["latestExecution"]["externalExecutionId"]
    )
    world.cloud.client("codepipeline").stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution, abandon=True, reason="test over"
    )
    assert world.wait(name, execution) == "Stopped"


def test_unknown_pipelines_and_executions_answer_with_the_modelled_errors(world):
    codepipeline = world.cloud.client("codepipeline")
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.get_pipeline_state(name="no-such-pipeline")
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, "acme/none")]},
            {"name": "Approval", "actions": [approval_action(world)]},
        ]
    )
    with pytest.raises(codepipeline.exceptions.PipelineExecutionNotFoundException):
        codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId="nope")


def test_creating_a_pipeline_starts_an_execution_as_codepipeline_does(world):
    repository_id, _ = world.clone()
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, repository_id)]},
            {"name": "Approval", "actions": [approval_action(world)]},
        ]
    )
    first = world.latest(name)
    assert first["trigger"]["triggerType"] == "CreatePipeline"
    assert first["status"] == "Failed"  # the repository has no main branch yet
    assert "Branch main does not exist" in first["statusSummary"]


def test_contract_moto_keeps_the_declaration_and_arn_where_the_executor_reads_them(world):
    from moto.codepipeline.models import codepipeline_backends

    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, "acme/contract")]},
            {"name": "Approval", "actions": [approval_action(world)]},
        ]
    )
    stored = codepipeline_backends[world.cloud.account][world.cloud.region].pipelines[name]
    assert stored.pipeline["stages"][1]["actions"][0]["runOrder"] == 1, (
        "moto's CodePipeline.pipeline (the stored declaration, defaults filled) moved"
    )
    assert stored.metadata["pipelineArn"].endswith(f":{name}"), "moto's pipelineArn moved"


def test_get_pipeline_state_dates_the_pipeline_as_get_pipeline_does(world):
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, "acme/dates")]},
            {"name": "Approval", "actions": [approval_action(world)]},
        ]
    )
    codepipeline = world.cloud.client("codepipeline")
    metadata = codepipeline.get_pipeline(name=name)["metadata"]
    state = codepipeline.get_pipeline_state(name=name)
    assert (state["created"], state["updated"]) == (metadata["created"], metadata["updated"])
    assert state["pipelineVersion"] == 1
