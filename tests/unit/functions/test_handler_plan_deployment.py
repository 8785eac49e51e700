"""PlanDeployment handler: `{"event": $$.Execution.Input, "execution": $$.Execution}`.

Payload: events/functions/plan_deployment.json, its event about a package moto holds. The
plan's requests are fed to moto's CreateModel/CreateEndpointConfig/CreateEndpoint, as the
DeployPipeline does, so botocore checks them against the SageMaker API model.
"""

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from mlops_common.domain import strategy

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def approval(stack: Any, sample: Any, sfn_execution: Any) -> Any:
    """approval(arn, version, "deploy-1"): the sample payload, the approval of that package,
    started as DeployPipeline execution deploy-1."""

    def payload(arn: str, version: int, execution: str) -> dict[str, Any]:
        return sample(
            "plan_deployment",
            {
                "event.resources": [arn],
                "event.detail.ModelPackageGroupName": stack.group,
                "event.detail.ModelPackageVersion": version,
                "event.detail.ModelPackageArn": arn,
                "execution": sfn_execution(execution, "deploy"),
            },
        )

    return payload


def deploy(stack: Any, plan: dict[str, Any]) -> None:
    """What the DeployPipeline's SageMaker tasks do with a DEPLOY plan."""
    stack.sagemaker.create_model(**plan["model"])
    stack.sagemaker.create_endpoint_config(**plan["endpoint_config"])
    if plan["endpoint_exists"]:
        stack.sagemaker.update_endpoint(
            EndpointName=plan["endpoint_name"],
            EndpointConfigName=plan["endpoint_config"]["EndpointConfigName"],
        )
    else:
        stack.sagemaker.create_endpoint(
            EndpointName=plan["endpoint_name"],
            EndpointConfigName=plan["endpoint_config"]["EndpointConfigName"],
        )


def test_first_approval_plans_a_new_endpoint_with_valid_requests(
    load_handler: Any,
    stack: Any,
    approval: Any,
    lambda_context: Any,
    asl_reads: Any,
    printed: Any,
) -> None:
    # Given an approved v1 and no endpoint
    handler = load_handler("plan_deployment")
    arn = stack.create_package("Approved")
    # When
    output = handler.lambda_handler(approval(arn, 1, "deploy-1"), lambda_context)
    # Then
    assert json.loads(json.dumps(output)) == output
    assert (output["action"], output["endpoint_exists"]) == ("DEPLOY", False)
    assert output["endpoint_name"] == "mlops-endpoint"
    # A first deployment has no live model to shadow (the template's ShadowMode is off anyway)
    assert output["shadow"] == {"enabled": False}
    assert output["ab_test"] == {"enabled": False}
    untaken = ("shadow.endpoint_config.", "shadow.window_seconds", "ab_test.endpoint_config.")
    reads = asl_reads(output, "deploy_pipeline", "$.plan.Payload.", untaken)
    assert {"shadow.enabled", "ab_test.enabled"} <= set(reads)
    deploy(stack, output)
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="mlops-endpoint")
    assert endpoint["EndpointConfigName"] == output["endpoint_config"]["EndpointConfigName"]
    # And the plan names its execution, the correlation id of every later step
    assert output["execution_name"] == "deploy-1"
    assert printed().correlation_ids() == {"deploy-1"}


def test_live_version_is_skipped_and_a_new_one_updates_the_endpoint(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any
) -> None:
    # Given v1 was deployed by deploy-1 (moto endpoints are InService at once)
    handler = load_handler("plan_deployment")
    v1 = stack.create_package("Approved")
    first = handler.lambda_handler(approval(v1, 1, "deploy-1"), lambda_context)
    deploy(stack, first)
    # When v1's event is replayed, and when v2 is approved
    replay = handler.lambda_handler(approval(v1, 1, "deploy-2"), lambda_context)
    v2 = stack.create_package("Approved")
    second = handler.lambda_handler(approval(v2, 2, "deploy-3"), lambda_context)
    # Then
    assert (replay["action"], replay["reason"]) == (
        "SKIP",
        "version 1 is already live on mlops-endpoint",
    )
    assert (second["action"], second["endpoint_exists"]) == ("DEPLOY", True)
    assert second["previous_config"] == first["endpoint_config"]["EndpointConfigName"]


def test_unknown_package_raises_model_package_not_found_by_class_name(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any
) -> None:
    handler = load_handler("plan_deployment")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/5"
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(approval(arn, 5, "deploy-1"), lambda_context)
    assert type(excinfo.value).__name__ == "ModelPackageNotFound"


# ---- guarded updates ---------------------------------------------------------------------------


def test_update_plan_arms_the_latency_alarm_and_guards_update_endpoint(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any, aws: Any
) -> None:
    # Given v1 is live and v2 was approved
    handler = load_handler("plan_deployment")
    v1 = stack.create_package("Approved")
    first = handler.lambda_handler(approval(v1, 1, "deploy-1"), lambda_context)
    deploy(stack, first)
    v2 = stack.create_package("Approved")
    # When
    plan = handler.lambda_handler(approval(v2, 2, "deploy-2"), lambda_context)
    new_config = plan["endpoint_config"]["EndpointConfigName"]
    # Then ArmLatencyAlarm's PutMetricAlarm points the alarm at the new config
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(**plan["latency_alarm"])
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["mlops-new-fleet-latency"])["MetricAlarms"]
    assert {"Name": "EndpointConfigName", "Value": new_config} in alarm["Dimensions"]
    assert (alarm["ExtendedStatistic"], alarm["Threshold"]) == ("p90", 500000.0)
    # And UpdateEndpoint takes the plan's DeploymentConfig (moto lacks UpdateEndpoint: a Stubber
    # on a client of our own still runs botocore's validation of the request)
    assert plan["deployment_config"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "mlops-endpoint-5xx"}, {"AlarmName": "mlops-new-fleet-latency"}]
    }
    request = {
        "EndpointName": plan["endpoint_name"],
        "EndpointConfigName": new_config,
        "DeploymentConfig": plan["deployment_config"],
    }
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stubber:
        arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mlops-endpoint"
        stubber.add_response("update_endpoint", {"EndpointArn": arn}, request)
        assert sagemaker.update_endpoint(**request)["EndpointArn"] == arn


def test_shadow_mode_plans_a_shadow_test_the_deploy_pipeline_can_run(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any, asl_reads: Any
) -> None:
    # Given v1 is live and v2 was approved, the stack in shadow mode (ShadowMode=true)
    handler = load_handler("plan_deployment", SHADOW_MODE="true")
    v1 = stack.create_package("Approved")
    first = handler.lambda_handler(approval(v1, 1, "deploy-1"), lambda_context)
    deploy(stack, first)
    v2 = stack.create_package("Approved")
    # When
    plan = handler.lambda_handler(approval(v2, 2, "deploy-2"), lambda_context)
    # Then every path the DeployPipeline reads from the plan exists, the shadow test's included
    assert json.loads(json.dumps(plan)) == plan
    assert first["shadow"] == {"enabled": False}  # the first deployment had nothing to shadow
    asl_reads(plan, "deploy_pipeline", "$.plan.Payload.", ("ab_test.endpoint_config.",))
    shadow = plan["shadow"]
    assert (shadow["enabled"], shadow["window_seconds"]) == (True, 900)  # SHADOW_WINDOW_SECONDS
    assert shadow["capture_uri"] == "s3://mlops-artifacts/shadow-tests/deploy-2"
    # And CreateShadowConfig's request is one SageMaker takes, serving the live model as it is
    stack.sagemaker.create_model(**plan["model"])
    stack.sagemaker.create_endpoint_config(**shadow["endpoint_config"])
    live = first["endpoint_config"]["ProductionVariants"]
    assert shadow["endpoint_config"]["ProductionVariants"] == live
    assert [v["ModelName"] for v in shadow["endpoint_config"]["ShadowProductionVariants"]] == [
        plan["model"]["ModelName"]
    ]


def test_ab_test_mode_plans_both_variants_weighted_the_deploy_pipeline_can_run(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any, asl_reads: Any
) -> None:
    # Given v1 is live and v2 was approved, the stack in A/B mode with a 20 % candidate
    handler = load_handler("plan_deployment", AB_TEST_MODE="true", AB_CANDIDATE_WEIGHT_PERCENT="20")
    v1 = stack.create_package("Approved")
    first = handler.lambda_handler(approval(v1, 1, "deploy-1"), lambda_context)
    deploy(stack, first)
    v2 = stack.create_package("Approved")
    # When
    plan = handler.lambda_handler(approval(v2, 2, "deploy-2"), lambda_context)
    # Then every path the DeployPipeline reads exists, the A/B test's included
    assert first["ab_test"] == {"enabled": False}  # a first deployment has nothing to test
    asl_reads(
        plan,
        "deploy_pipeline",
        "$.plan.Payload.",
        ("shadow.endpoint_config.", "shadow.window_seconds"),
    )
    ab = plan["ab_test"]
    assert (ab["live_variant"], ab["candidate_variant"]) == ("AllTraffic", "Candidate")
    assert ab["capture_uri"] == "s3://mlops-artifacts/ab-tests/deploy-2"
    config = ab["endpoint_config"]
    assert config["EndpointConfigName"] == plan["endpoint_config"]["EndpointConfigName"] + "-ab"
    live, candidate = config["ProductionVariants"]
    assert live["ModelName"] == first["model"]["ModelName"]
    assert candidate["ModelName"] == plan["model"]["ModelName"]
    assert (live["InitialVariantWeight"], candidate["InitialVariantWeight"]) == (80.0, 20.0)
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == ab["capture_uri"]
    # And CreateABConfig's request is one SageMaker takes
    stack.sagemaker.create_model(**plan["model"])
    stack.sagemaker.create_endpoint_config(**config)


def test_shadow_and_ab_test_mode_together_fail_the_plan_by_name_before_any_aws_call(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any
) -> None:
    handler = load_handler("plan_deployment", SHADOW_MODE="true", AB_TEST_MODE="true")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(approval(arn, 1, "d-1"), lambda_context)
    assert type(excinfo.value).__name__ == "CandidateTestModesConflict"
    assert "ShadowMode and ABTestMode are both true" in str(excinfo.value)
    assert stack.sagemaker.list_endpoint_configs()["EndpointConfigs"] == []


def test_invalid_strategy_cold_starts_and_raises_deployment_config_invalid_by_class_name(
    load_handler: Any, stack: Any, approval: Any, lambda_context: Any
) -> None:
    # Ranges are the domain's to check, so the workflow can catch the named error.
    handler = load_handler("plan_deployment", DEPLOYMENT_STRATEGY="LINEAR", LINEAR_STEP_PERCENT="5")
    arn = stack.create_package("Approved")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(approval(arn, 1, "d-1"), lambda_context)
    assert type(excinfo.value).__name__ == "DeploymentConfigInvalid"
    assert str(excinfo.value) == "linear step 5% must be 10-50% of the fleet"


def test_template_defaults_are_a_valid_strategy(template: dict[str, Any]) -> None:
    # A stack deployed with the default parameters must not fail every deployment.
    parameters = template["Parameters"]

    def default(name: str) -> int:
        return int(parameters[name]["Default"])

    config = strategy.deployment_config(
        parameters["DeploymentStrategy"]["Default"],
        default("CanarySizePercent"),
        default("LinearStepPercent"),
        default("BakeSeconds"),
        default("TerminationWaitSeconds"),
        default("MaxExecutionTimeoutSeconds"),
        ["error-alarm", "latency-alarm"],
    )
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
