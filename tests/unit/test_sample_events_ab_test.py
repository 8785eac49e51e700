"""The JudgeABTest sample (events/functions/judge_ab_test.json) is what its ASL task sends
after ABPoll: the plan of the VerifyDeployment sample's deployment, built in A/B mode with the
template's defaults, DescribeEndpoint of that A/B test running, and the execution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber
from mlops_common import models
from mlops_common.domain.ab_test import CANDIDATE_VARIANT, ab_test
from mlops_common.settings import DeploySettings

from mlops.twin.cloudformation.template import load_template

ROOT = Path(__file__).resolve().parents[2]
STACK = "mlops-dev"
SAMPLE = json.loads((ROOT / "events/functions/judge_ab_test.json").read_text(encoding="utf-8"))
PLAN = SAMPLE["plan"]
LIVE = json.loads((ROOT / "events/functions/compare_shadow.json").read_text(encoding="utf-8"))[
    "plan"
]["shadow"]["endpoint_config"]["ProductionVariants"]


class LiveConfig:
    """DescribeEndpointConfig of the live config: one production variant, the live model."""

    def describe_config(self, name: str) -> dict[str, Any]:
        assert name == PLAN["previous_config"]
        return {"ProductionVariants": LIVE}


def test_sample_plan_is_the_verify_sample_s_deployment_with_an_ab_test() -> None:
    verified = json.loads((ROOT / "events/functions/verify_deployment.json").read_text())["plan"]
    assert {k: v for k, v in PLAN.items() if k != "ab_test"} == {
        k: v for k, v in verified.items() if k != "ab_test"
    }
    assert set(PLAN) == set(models.DeployPlan.model_fields)


def test_sample_ab_test_is_what_plan_deployment_builds_with_the_template_defaults() -> None:
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    settings = DeploySettings(
        endpoint_name=PLAN["endpoint_name"],
        model_package_group=f"{STACK}-models",
        sagemaker_role_arn=PLAN["model"]["ExecutionRoleArn"],
        error_alarm_name=f"{STACK}-endpoint-5xx",
        latency_alarm_name=f"{STACK}-new-fleet-latency",
        ab_test_mode=True,
        ab_candidate_weight_percent=int(parameters["ABCandidateWeightPercent"]["Default"]),
        artifacts_bucket=PLAN["model"]["PrimaryContainer"]["ModelDataUrl"].split("/")[2],
        inference_image_uri=PLAN["model"]["PrimaryContainer"]["Image"],
    )
    live = {"EndpointConfigName": PLAN["previous_config"]}
    requests = {"endpoint_config": PLAN["endpoint_config"]}
    rebuilt = ab_test(live, requests, settings, LiveConfig(), PLAN["execution_name"])  # type: ignore[arg-type]
    assert PLAN["ab_test"] == rebuilt


def test_sample_endpoint_is_describe_endpoint_of_the_running_ab_test() -> None:
    endpoint = SAMPLE["endpoint"]
    capture = {"KmsKeyId": "", **endpoint["DataCaptureConfig"]}  # see the shadow sample's test
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stubber:
        stubber.add_response(
            "describe_endpoint",
            endpoint | {"DataCaptureConfig": capture},
            {"EndpointName": PLAN["endpoint_name"]},
        )
        sagemaker.describe_endpoint(EndpointName=PLAN["endpoint_name"])
    ab = PLAN["ab_test"]
    assert endpoint["EndpointConfigName"] == ab["endpoint_config"]["EndpointConfigName"]
    weights = {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}
    assert weights == {"AllTraffic": 90.0, CANDIDATE_VARIANT: 10.0}
    assert endpoint["DataCaptureConfig"]["DestinationS3Uri"] == ab["capture_uri"]


def test_sample_ab_config_is_a_valid_create_endpoint_config_request() -> None:
    request = PLAN["ab_test"]["endpoint_config"]
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    arn = (
        f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{request['EndpointConfigName']}"
    )
    with Stubber(sagemaker) as stubber:
        stubber.add_response("create_endpoint_config", {"EndpointConfigArn": arn}, request)
        assert sagemaker.create_endpoint_config(**request)["EndpointConfigArn"] == arn
