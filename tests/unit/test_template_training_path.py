"""template.yaml wires the training path as the domain needs it: the functions that take over
a claim or a lock left by an ended execution may describe the TrainingPipeline's executions,
and only those.

A wrong name here deploys cleanly and fails later: an AccessDenied on DescribeExecution fails
the replay that should take over a crashed run's claim.
"""

from __future__ import annotations

import pytest
from test_template_deploy_path import EXECUTION_ARN, machines_invoking, resources, statements


@pytest.mark.parametrize("function", ["ValidateDatasetFunction", "RegisterModelFunction"])
def test_claim_takers_describe_only_the_training_pipeline_s_executions(function: str) -> None:
    assert machines_invoking(function) == ["TrainingPipeline"]
    name = resources()["TrainingPipeline"]["Properties"]["Name"]["Fn::Sub"]
    assert name == "${AWS::StackName}-TrainingPipeline"
    [describe] = [s for s in statements(function) if s.get("Sid") == "ClaimHolderStillRunning"]
    assert describe["Action"] == "states:DescribeExecution"
    assert describe["Resource"]["Fn::Sub"] == EXECUTION_ARN.replace("{machine}", name)
