"""The CompareShadow sample (events/functions/compare_shadow.json) is what its ASL task sends
after ShadowWindow: the plan of the VerifyDeployment sample's deployment, built in shadow mode,
and DescribeEndpoint of that shadow test running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber
from mlops_common import models
from mlops_common.domain.shadow import SHADOW_VARIANT, shadow_test
from mlops_common.settings import DeploySettings

from mlops.twin.cloudformation.template import load_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
STACK = "mlops-dev"


def _load(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


SAMPLE = _load("functions/compare_shadow.json")
PLAN = SAMPLE["plan"]


class LiveConfig:
    """DescribeEndpointConfig of the live config: the sample's own production variant."""

    def describe_config(self, name: str) -> dict[str, Any]:
        assert name == PLAN["previous_config"]
        return {"ProductionVariants": PLAN["shadow"]["endpoint_config"]["ProductionVariants"]}


def test_sample_plan_is_the_verify_sample_s_deployment_with_a_shadow_test() -> None:
    verified = _load("functions/verify_deployment.json")["plan"]
    assert {k: v for k, v in PLAN.items() if k != "shadow"} == {
        k: v for k, v in verified.items() if k != "shadow"
    }
    assert PLAN["shadow"]["enabled"] is True
    assert set(PLAN) == set(models.DeployPlan.model_fields)


def test_sample_shadow_is_what_plan_deployment_builds_with_the_template_defaults() -> None:
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    artifacts = PLAN["model"]["PrimaryContainer"]["ModelDataUrl"].split("/")[2]
    [execution] = [t["Value"] for t in PLAN["model"]["Tags"] if t["Key"] == "mlops:execution"]
    settings = DeploySettings(
        endpoint_name=PLAN["endpoint_name"],
        model_package_group=f"{STACK}-models",
        sagemaker_role_arn=PLAN["model"]["ExecutionRoleArn"],
        error_alarm_name=f"{STACK}-endpoint-5xx",
        latency_alarm_name=f"{STACK}-new-fleet-latency",
        shadow_mode=True,
        shadow_window_seconds=int(parameters["ShadowWindowSeconds"]["Default"]),
        artifacts_bucket=artifacts,
        inference_image_uri=PLAN["model"]["PrimaryContainer"]["Image"],
    )
    live = {"EndpointConfigName": PLAN["previous_config"]}
    requests = {"endpoint_config": PLAN["endpoint_config"]}
    rebuilt = shadow_test(live, requests, settings, LiveConfig(), execution)  # type: ignore[arg-type]
    assert PLAN["shadow"] == rebuilt
    # The live variant serves the live model, named like its config (resource_name)
    [production] = PLAN["shadow"]["endpoint_config"]["ProductionVariants"]
    assert production["ModelName"] == PLAN["previous_config"]


def test_sample_endpoint_is_describe_endpoint_of_the_running_shadow_test() -> None:
    endpoint = SAMPLE["endpoint"]
    shadow = PLAN["shadow"]
    # botocore's Stubber validates a response against the DescribeEndpoint output shape, whose
    # DataCaptureConfig marks KmsKeyId required; a capture without a key (ours, the twin's) has none
    capture = {"KmsKeyId": "", **endpoint["DataCaptureConfig"]}
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stubber:
        stubber.add_response(
            "describe_endpoint",
            endpoint | {"DataCaptureConfig": capture},
            {"EndpointName": PLAN["endpoint_name"]},
        )
        sagemaker.describe_endpoint(EndpointName=PLAN["endpoint_name"])
    assert (endpoint["EndpointName"], endpoint["EndpointStatus"]) == (
        PLAN["endpoint_name"],
        "InService",
    )
    assert endpoint["EndpointConfigName"] == shadow["endpoint_config"]["EndpointConfigName"]
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == [SHADOW_VARIANT]
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["AllTraffic"]
    assert endpoint["DataCaptureConfig"]["DestinationS3Uri"] == shadow["capture_uri"]
    assert endpoint["DataCaptureConfig"]["CurrentSamplingPercentage"] == 100


def test_sample_shadow_config_is_a_valid_create_endpoint_config_request() -> None:
    # CreateShadowConfig passes plan.shadow.endpoint_config's fields; botocore validates them
    request = PLAN["shadow"]["endpoint_config"]
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    name = request["EndpointConfigName"]
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}"
    with Stubber(sagemaker) as stubber:
        stubber.add_response("create_endpoint_config", {"EndpointConfigArn": arn}, request)
        assert sagemaker.create_endpoint_config(**request)["EndpointConfigArn"] == arn
