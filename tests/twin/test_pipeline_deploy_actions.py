"""The CloudFormation deploy and Step Functions invoke actions in the twin: a push updates the
running app stack in place from the pushed template and code (new parameters, new code, new
state machine definitions) while its data stays; a template that cannot be provisioned fails
the action with the reason; a state machine's execution decides its action."""

from __future__ import annotations

import io
import json
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from delivery_world import DeliveryWorld, source_action

from mlops.twin.stack import ROOT, TwinStack, start_stack, twin_parameters

APP = "app-staging"
APP_FILES = ("template.yaml", "functions", "layers", "statemachines")
PARAMETERS_ONLY_IN_CONFIG = ("CodeVersion", "ImprovementMargin")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    twin = start_stack(stack_name=APP)
    try:
        yield twin, DeliveryWorld(twin.cloud, tmp_path_factory.mktemp("deploy"))
    finally:
        twin.close()


def _type(category: str, provider: str) -> dict[str, str]:
    return {"category": category, "owner": "AWS", "provider": provider, "version": "1"}


def deploy_action(**configuration: str) -> dict:
    return {
        "name": "Deploy",
        "namespace": "AppStack",
        "actionTypeId": _type("Deploy", "CloudFormation"),
        "inputArtifacts": [{"name": "SourceArtifact"}],
        "configuration": {
            "ActionMode": "CREATE_UPDATE",
            "StackName": APP,
            "TemplatePath": "SourceArtifact::template.yaml",
            "TemplateConfiguration": "SourceArtifact::staging-config.json",
            "ParameterOverrides": '{"CodeVersion": "#{SourceVariables.CommitId}"}',
            "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
            **configuration,
        },
    }


def app_repository(world: DeliveryWorld, twin: TwinStack, stages_after_source: list[dict]):
    """A connected repository holding the app (template, functions, layer, state machines)
    and a stage configuration, and a pipeline that deploys it."""
    repository, clone = world.clone()
    for name in APP_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone.path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, clone.path / name)
    parameters = {
        k: v
        for k, v in twin_parameters(twin.cloud.region).items()
        if k not in PARAMETERS_ONLY_IN_CONFIG
    }
    (clone.path / "staging-config.json").write_text(json.dumps({"Parameters": parameters}))
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, repository)]},
            *stages_after_source,
        ]
    )
    return clone, name


def test_a_push_updates_the_stack_in_place_with_the_commit_and_new_defaults_and_keeps_the_data(
    app,
):
    twin, world = app
    before = twin.cloud.stacks.find(APP).stack
    twin.upload_dataset("kept.csv", b"a,b\n1,2\n")
    ledger = twin.outputs["LedgerTableName"]
    twin.client("dynamodb").put_item(
        TableName=ledger, Item={"pk": {"S": "kept"}, "sk": {"S": "kept"}}
    )
    clone, name = app_repository(world, twin, [{"name": "Deploy", "actions": [deploy_action()]}])
    template = (clone.path / "template.yaml").read_text()
    assert "Default: 0.005" in template
    (clone.path / "template.yaml").write_text(template.replace("Default: 0.005", "Default: 0.002"))
    asl = clone.path / "statemachines" / "training_pipeline.asl.json"
    asl.write_text(
        asl.read_text().replace('"Comment": "New dataset', '"Comment": "Pushed: new dataset')
    )
    commit = clone.commit({}, "a smaller improvement margin")
    clone.push()
    execution = world.latest(name)["pipelineExecutionId"]

    assert world.wait(name, execution) == "Succeeded"
    stack = twin.client("cloudformation").describe_stacks(StackName=APP)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert parameters["CodeVersion"] == commit
    assert parameters["ImprovementMargin"] == "0.002"
    definition = twin.client("stepfunctions").describe_state_machine(
        stateMachineArn=twin.outputs["TrainingPipelineArn"]
    )["definition"]
    assert json.loads(definition)["Comment"].startswith("Pushed: new dataset")
    after = twin.cloud.stacks.find(APP).stack
    prepare = after.functions["PrepareCandidateFunction"]
    configuration = twin.client("lambda").get_function_configuration(FunctionName=prepare.name)[
        "Environment"
    ]["Variables"]
    assert configuration["CODE_VERSION"] == prepare.environment["CODE_VERSION"] == commit
    assert after.functions["ValidateDatasetFunction"].environment["IMPROVEMENT_MARGIN"] == "0.002"
    assert after.physical_ids == before.physical_ids
    assert all(
        Path(spec.code_dir).is_relative_to(twin.cloud.work_dir) for spec in after.functions.values()
    ), "the functions run the pushed code"
    data = twin.client("s3").list_objects_v2(Bucket=twin.outputs["DataBucketName"])["Contents"]
    assert [o["Key"] for o in data] == [twin.outputs["DataPrefix"] + "kept.csv"]
    kept = twin.client("dynamodb").get_item(
        TableName=ledger, Key={"pk": {"S": "kept"}, "sk": {"S": "kept"}}
    )
    assert "Item" in kept
    deploy = world.actions(name, execution)["Deploy"]
    assert (
        deploy["output"]["outputVariables"]["TrainingPipelineArn"]
        == (twin.outputs["TrainingPipelineArn"])
    )


def test_a_template_that_cannot_be_provisioned_fails_the_action_with_the_reason(app):
    twin, world = app
    clone, name = app_repository(world, twin, [{"name": "Deploy", "actions": [deploy_action()]}])
    template = (clone.path / "template.yaml").read_text()
    clone.commit(
        {"template.yaml": template.replace("Handler: app.lambda_handler", "Handler: gone.handler")},
        "a handler that does not exist",
    )
    clone.push()
    execution = world.latest(name)["pipelineExecutionId"]

    assert world.wait(name, execution) == "Failed"
    result = world.actions(name, execution)["Deploy"]["output"]["executionResult"]
    message = result["errorDetails"]["message"]
    assert message.startswith(f"Stack {APP} failed to update: ")
    assert "handler gone.handler not in" in message
    state = twin.client("cloudformation").describe_stacks(StackName=APP)["Stacks"][0]
    assert state["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def test_without_the_iam_capability_the_deploy_is_refused_as_cloudformation_refuses_it(app):
    twin, world = app
    clone, name = app_repository(
        world,
        twin,
        [{"name": "Deploy", "actions": [deploy_action(Capabilities="CAPABILITY_AUTO_EXPAND")]}],
    )
    clone.commit({}, "the app")
    clone.push()
    execution = world.latest(name)["pipelineExecutionId"]

    assert world.wait(name, execution) == "Failed"
    result = world.actions(name, execution)["Deploy"]["output"]["executionResult"]
    assert result["errorDetails"]["message"] == "Requires capabilities : [CAPABILITY_IAM]"


# -- Step Functions invoke ----------------------------------------------------------------------


def state_machine(twin: TwinStack, states: dict) -> str:
    role = twin.client("iam").create_role(
        RoleName=f"sfn-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    return twin.client("stepfunctions").create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "Only", "States": {"Only": states}}),
        roleArn=role,
    )["stateMachineArn"]


def invoke_action(arn: str, **configuration: str) -> dict:
    return {
        "name": "Invoke",
        "namespace": "Run",
        "actionTypeId": _type("Invoke", "StepFunctions"),
        "inputArtifacts": [{"name": "SourceArtifact"}],
        "outputArtifacts": [{"name": "RunOutput"}],
        "configuration": {"StateMachineArn": arn, **configuration},
    }


def invoke_pipeline(world: DeliveryWorld, action: dict) -> tuple[str, str]:
    repository, clone = world.clone()
    name = world.pipeline(
        [
            {"name": "Source", "actions": [source_action(world, repository)]},
            {"name": "Invoke", "actions": [action]},
        ]
    )
    clone.commit({"input.json": '{"from": "file"}'}, "input")
    clone.push()
    return name, world.latest(name)["pipelineExecutionId"]


def test_an_invoke_waits_for_the_execution_and_exports_its_arns_and_output(app):
    twin, world = app
    arn = state_machine(twin, {"Type": "Pass", "Result": {"answer": 42}, "End": True})
    name, execution = invoke_pipeline(
        world,
        invoke_action(
            arn,
            ExecutionNamePrefix="delivery",
            InputType="Literal",
            Input='{"a": "#{SourceVariables.CommitId}"}',
        ),
    )

    assert world.wait(name, execution) == "Succeeded"
    action = world.actions(name, execution)["Invoke"]
    variables = action["output"]["outputVariables"]
    assert variables["StateMachineArn"] == arn
    described = twin.client("stepfunctions").describe_execution(
        executionArn=variables["ExecutionArn"]
    )
    assert described["name"] == f"delivery-{action['actionExecutionId']}"
    assert (
        json.loads(described["input"])["a"]
        == world.latest(name)["sourceRevisions"][0]["revisionId"]
    )
    [output] = action["output"]["outputArtifacts"]
    body = (
        twin.client("s3")
        .get_object(Bucket=output["s3location"]["bucket"], Key=output["s3location"]["key"])["Body"]
        .read()
    )
    assert json.loads(zipfile.ZipFile(io.BytesIO(body)).read("output.json")) == {"answer": 42}


def test_an_input_file_from_the_artifact_is_the_executions_input(app):
    twin, world = app
    arn = state_machine(twin, {"Type": "Pass", "End": True})
    name, execution = invoke_pipeline(
        world, invoke_action(arn, InputType="FilePath", Input="input.json")
    )

    assert world.wait(name, execution) == "Succeeded"
    variables = world.actions(name, execution)["Invoke"]["output"]["outputVariables"]
    described = twin.client("stepfunctions").describe_execution(
        executionArn=variables["ExecutionArn"]
    )
    assert json.loads(described["input"]) == {"from": "file"}


def test_a_failed_execution_fails_the_action_with_its_error_and_cause(app):
    twin, world = app
    arn = state_machine(twin, {"Type": "Fail", "Error": "NotBetter", "Cause": "0.91 < 0.95"})
    name, execution = invoke_pipeline(world, invoke_action(arn))

    assert world.wait(name, execution) == "Failed"
    result = world.actions(name, execution)["Invoke"]["output"]["executionResult"]
    assert result["externalExecutionSummary"] == "Execution FAILED: NotBetter"
    assert result["errorDetails"]["message"] == "Execution FAILED: NotBetter: 0.91 < 0.95"
    assert result["externalExecutionId"].startswith(arn.replace(":stateMachine:", ":execution:"))


def test_a_kept_resource_whose_properties_change_is_refused_by_name_before_anything_changes(app):
    twin, world = app
    before = twin.client("lambda").get_function_configuration(
        FunctionName=twin.cloud.stacks.find(APP).stack.functions["ValidateDatasetFunction"].name
    )["Environment"]["Variables"]
    clone, name = app_repository(world, twin, [{"name": "Deploy", "actions": [deploy_action()]}])
    template = (clone.path / "template.yaml").read_text()
    assert template.count("BillingMode: PAY_PER_REQUEST") == 1
    clone.commit(
        {
            "template.yaml": template.replace(
                "BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED"
            ).replace("Default: 0.005", "Default: 0.001")
        },
        "a provisioned ledger",
    )
    clone.push()
    execution = world.latest(name)["pipelineExecutionId"]

    assert world.wait(name, execution) == "Failed"
    message = world.actions(name, execution)["Deploy"]["output"]["executionResult"]
    assert "LedgerTable (AWS::DynamoDB::Table: BillingMode)" in message["errorDetails"]["message"]
    after = twin.client("lambda").get_function_configuration(
        FunctionName=twin.cloud.stacks.find(APP).stack.functions["ValidateDatasetFunction"].name
    )["Environment"]["Variables"]
    assert after == before
