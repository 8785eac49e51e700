"""codepipeline.yaml, the delivery pipeline, read as CloudFormation reads it: the stage order
the README promises, the V2 push trigger, the deploys naming the commit as CodeVersion, the
retrain requests in the TrainingPipeline's documented input shape (design decision D1), every
#{Namespace.Variable} produced by an action before it, every buildspec runnable by CodeBuild
(as the twin parses it), and the notifier's rules accepting the sample events in
events/pipeline/ ("Monitoring CodePipeline events", "Variables reference", CodePipeline user
guide)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from mlops.twin.cloudformation.template import (
    Context,
    evaluate,
    load_template,
    resolve_parameters,
    sam_transform,
)
from mlops.twin.codebuild.buildspec import check_runtimes, parse_buildspec
from mlops.twin.codepipeline.triggers import validate_triggers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "codepipeline.yaml"
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "mlops-delivery"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stage"
PARAMETERS = {
    "FullRepositoryId": "acme/mlops",
    **{
        f"{stage}{kind}": ROLE
        for stage in ("Staging", "Prod")
        for kind in ("PipelineExecutionRole", "CloudFormationExecutionRole")
    },  # fmt: skip
    "StagingArtifactsBucket": "staging-artifacts",
    "ProdArtifactsBucket": "prod-artifacts",
}
STAGES = [
    "Source",
    "UpdatePipeline",
    "BuildAndTest",
    "DeployStaging",
    "VerifyStaging",
    "ApproveProduction",
    "DeployProd",
    "VerifyProd",
]
BUILTIN_NAMESPACES = {"codepipeline", "variables"}
REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")
# The CloudFormation action makes the stack's Outputs its output variables (Variables reference).
APP_OUTPUTS = set(load_template(ROOT / "template.yaml")["Outputs"])


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template = load_template(TEMPLATE)
    parameters = resolve_parameters(template, PARAMETERS)
    cfn = sam_transform(template, parameters, REGION)
    ctx = Context(
        parameters=parameters,
        pseudo={
            "AWS::StackName": STACK,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/x",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        },
    )
    for name, expr in cfn.get("Conditions", {}).items():
        ctx.conditions[name] = bool(evaluate(expr, ctx))
    for logical in cfn["Resources"]:
        ctx.refs[logical] = STACK if logical == "Pipeline" else f"{logical}-ref"
        ctx.attributes[logical] = {
            "Arn": f"arn:aws:x:::{logical}",
            "TopicName": logical,
            "ConnectionArn": f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/x",
        }
    return {
        logical: resource | {"Properties": evaluate(resource.get("Properties", {}), ctx)}
        for logical, resource in cfn["Resources"].items()
        if "Condition" not in resource or ctx.conditions[resource["Condition"]]
    }


@pytest.fixture(scope="module")
def pipeline(resources) -> dict[str, Any]:
    return resources["Pipeline"]["Properties"]


def actions(pipeline: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(stage["Name"], a) for stage in pipeline["Stages"] for a in stage["Actions"]]


def test_cfn_lint_passes():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stages_run_in_the_documented_order(pipeline):
    assert [s["Name"] for s in pipeline["Stages"]] == STAGES
    assert pipeline["PipelineType"] == "V2" and pipeline["ExecutionMode"] == "QUEUED"


def test_the_push_trigger_filters_main_and_the_code_paths_and_codepipeline_accepts_it(pipeline):
    [trigger] = pipeline["Triggers"]
    [push] = trigger["GitConfiguration"]["Push"]
    assert push["Branches"] == {"Includes": ["main"]}
    assert push["FilePaths"]["Includes"] == [
        "template.yaml",
        "codepipeline.yaml",
        "functions/**",
        "layers/**",
        "statemachines/**",
        "ml/**",
        "pipeline/**",
    ]
    assert push["FilePaths"]["Excludes"] == ["**/*.md"]
    declaration = {
        "stages": [{"name": s, "actions": [{"name": a["Name"], "actionTypeId": {
            "provider": a["ActionTypeId"]["Provider"]}} for a in stage["Actions"]]}
            for s, stage in ((st["Name"], st) for st in pipeline["Stages"])],
        "triggers": [json.loads(json.dumps(trigger).replace('"ProviderType"', '"providerType"')
            .replace('"GitConfiguration"', '"gitConfiguration"').replace(
            '"SourceActionName"', '"sourceActionName"').replace('"Push"', '"push"')
            .replace('"Branches"', '"branches"').replace('"FilePaths"', '"filePaths"')
            .replace('"Includes"', '"includes"').replace('"Excludes"', '"excludes"'))],
    }  # fmt: skip
    validate_triggers(declaration)


def test_each_stage_is_deployed_with_the_commit_as_code_version_by_its_own_roles(pipeline):
    found = {a["Name"]: a for _, a in actions(pipeline)}
    for stage in ("Staging", "Prod"):
        deploy = found[f"Deploy{stage}"]
        config = deploy["Configuration"]
        assert deploy["ActionTypeId"]["Provider"] == "CloudFormation"
        assert json.loads(config["ParameterOverrides"]) == {
            "CodeVersion": "#{SourceVariables.CommitId}"
        }
        assert config["TemplatePath"] == f"BuildArtifact::packaged-{stage.lower()}.yaml"
        assert config["TemplateConfiguration"] == f"BuildArtifact::{stage.lower()}-config.json"
        assert config["RoleArn"] == ROLE and deploy["RoleArn"] == ROLE
        assert "CAPABILITY_AUTO_EXPAND" in config["Capabilities"]


@pytest.mark.parametrize("stage", ["Staging", "Prod"])
def test_the_retrain_is_a_forced_retrain_on_request_of_the_latest_dataset(pipeline, stage):
    retrain = {a["Name"]: a for _, a in actions(pipeline)}[f"Retrain{stage}"]
    assert retrain["ActionTypeId"] == {
        "Category": "Invoke",
        "Owner": "AWS",
        "Provider": "StepFunctions",
        "Version": "1",
    }
    request = json.loads(retrain["Configuration"]["Input"])["retrain"]
    assert request["dataset"] == "latest" and request["force"] is True
    assert request["reason"] and request["requested_by"] == f"codepipeline/{STACK}"
    assert request["request_id"] == f"#{{codepipeline.PipelineExecutionId}}-{stage.lower()}"
    assert request["code_version"] == "#{SourceVariables.CommitId}"
    assert retrain["Configuration"]["StateMachineArn"] == f"#{{{stage}Stack.TrainingPipelineArn}}"


def test_every_variable_is_produced_by_an_action_that_runs_before_the_one_using_it(pipeline):
    produced: dict[str, set[str] | None] = {n: None for n in BUILTIN_NAMESPACES}
    for stage in pipeline["Stages"]:
        for order in sorted({a.get("RunOrder", 1) for a in stage["Actions"]}):
            group = [a for a in stage["Actions"] if a.get("RunOrder", 1) == order]
            for action in group:
                text = json.dumps(action.get("Configuration", {}))
                for namespace, name in REFERENCE.findall(text):
                    assert namespace in produced, f"{action['Name']}: #{{{namespace}.{name}}}"
                    known = produced[namespace]
                    assert known is None or name in known, f"{namespace}.{name}"
            for action in group:
                if "Namespace" in action:
                    provider = action["ActionTypeId"]["Provider"]
                    produced[action["Namespace"]] = (
                        APP_OUTPUTS if provider == "CloudFormation" else None
                    )


def test_every_buildspec_exists_and_codebuild_can_run_it(resources):
    projects = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    assert len(projects) == 4
    for project in projects:
        path = ROOT / project["Properties"]["Source"]["BuildSpec"]
        spec = parse_buildspec(path.read_text())
        check_runtimes(spec.runtime_versions)
        assert spec.runtime_versions == {"python": "3.11"}, path.name
        scripts = re.findall(r"pipeline/[\w./-]+\.(?:py|sh)", path.read_text())
        assert all((ROOT / s).is_file() for s in scripts), scripts


def test_the_notifier_is_the_pipeline_functions_handler_on_the_shared_layer(resources):
    function = resources["PipelineNotifierFunction"]["Properties"]
    assert (ROOT / "pipeline/functions/notify_pipeline_change/app.py").is_file()
    assert function["Handler"] == "app.lambda_handler" and function["Runtime"] == "python3.11"
    assert function["Environment"]["Variables"]["TOPIC_ARN"] == "NotificationTopic-ref"


@pytest.mark.parametrize(
    ("sample", "delivered"),
    [
        ("pipeline_started.json", True),
        ("pipeline_failed.json", True),
        ("stage_failed.json", True),
        ("action_failed.json", True),
        ("approval_waiting.json", True),
        ("action_succeeded.json", False),
    ],
)
def test_the_notifier_rules_deliver_what_it_notifies(resources, sample, delivered):
    event = json.loads((ROOT / "events" / "pipeline" / sample).read_text())
    rules = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and any("PipelineNotifierFunction" in json.dumps(t) for t in r["Properties"]["Targets"])
    ]
    assert len(rules) == 3
    matches = [EventPattern.load(json.dumps(r["EventPattern"])).matches_event(event) for r in rules]
    assert any(matches) is delivered
