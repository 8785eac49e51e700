"""template.yaml wires the deploy path as the domain needs it: the endpoint lock may describe
the executions of exactly the pipelines that take it, and provenance is checked against the
stack's own image and artifacts bucket.

A wrong name here deploys cleanly and fails later: an AccessDenied on DescribeExecution fails
every deployment that finds the lock held; a provenance check against another image refuses
every version.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
EXECUTION_ARN = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:{machine}:*"
)


@cache
def resources() -> dict[str, Any]:
    return json.loads(json.dumps(load_cfn_yaml(str(TEMPLATE))["Resources"]))


def statements(function: str) -> list[dict[str, Any]]:
    policies = resources()[function]["Properties"]["Policies"]
    return [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]


def machines_invoking(function: str) -> list[str]:
    return sorted(
        logical
        for logical, r in resources().items()
        if r["Type"] == "AWS::Serverless::StateMachine"
        for value in r["Properties"]["DefinitionSubstitutions"].values()
        if value == {"Fn::GetAtt": [function, "Arn"]}
    )


def test_the_lock_function_describes_only_executions_of_the_pipelines_that_take_the_lock():
    takers = machines_invoking("AcquireEndpointFunction")
    assert takers == ["DeployPipeline", "RollbackPipeline"]
    names = [resources()[m]["Properties"]["Name"]["Fn::Sub"] for m in takers]
    assert names == ["${AWS::StackName}-DeployPipeline", "${AWS::StackName}-RollbackPipeline"]
    [describe] = [s for s in statements("AcquireEndpointFunction") if s.get("Sid") ==
                  "HolderStillRunning"]  # fmt: skip
    assert describe["Action"] == "states:DescribeExecution"
    assert [r["Fn::Sub"] for r in describe["Resource"]] == [
        EXECUTION_ARN.replace("{machine}", name) for name in names
    ]


@pytest.mark.parametrize("function", ["PlanDeploymentFunction", "PlanRollbackFunction"])
def test_provenance_is_checked_against_the_stack_s_image_and_artifacts_bucket(function: str):
    variables = resources()[function]["Properties"]["Environment"]["Variables"]
    assert variables["INFERENCE_IMAGE_URI"] == {"Ref": "InferenceImageUri"}
    assert variables["ARTIFACTS_BUCKET"] == {"Ref": "ArtifactsBucket"}
    policies = resources()[function]["Properties"]["Policies"]
    assert {"S3ReadPolicy": {"BucketName": {"Ref": "ArtifactsBucket"}}} in policies


def test_registration_reads_what_it_hashes_from_the_artifacts_bucket():
    properties = resources()["RegisterModelFunction"]["Properties"]
    assert {"S3ReadPolicy": {"BucketName": {"Ref": "ArtifactsBucket"}}} in properties["Policies"]
    variables = properties["Environment"]["Variables"]
    assert variables["CODE_VERSION"] == {"Ref": "CodeVersion"}
