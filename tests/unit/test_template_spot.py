"""template.yaml and the TrainingPipeline wire managed spot training: the parameters reach the
functions that build and check the request, the training task passes the spot fields and keeps
the job's times, and the jobs role reaches the checkpoint prefix through its runs/ grants."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pytest
from test_template_drift import ROOT, actions, resource, statements, template

SPOT_VARIABLES = {
    "SPOT_TRAINING": {"Ref": "SpotTraining"},
    "SPOT_MAX_WAIT_SECONDS": {"Ref": "SpotMaxWaitSeconds"},
    "MAX_RUNTIME_SECONDS": {"Ref": "TrainingMaxRuntimeSeconds"},
}


def training_task() -> dict:
    definition = json.loads((ROOT / "statemachines" / "training_pipeline.asl.json").read_text())
    return definition["States"]["TrainCandidates"]["ItemProcessor"]["States"]


def test_spot_training_is_off_by_default_and_waits_twice_the_runtime_when_on() -> None:
    parameters = template()["Parameters"]
    assert parameters["SpotTraining"]["AllowedValues"] == ["true", "false"]
    assert parameters["SpotTraining"]["Default"] == "false"
    assert parameters["SpotMaxWaitSeconds"]["Default"] == 7200
    assert parameters["TrainingMaxRuntimeSeconds"]["Default"] == 3600


@pytest.mark.parametrize("function", ["ValidateDatasetFunction", "PrepareCandidateFunction"])
def test_the_spot_parameters_reach_the_functions_that_check_them(function: str) -> None:
    variables = resource(function)["Properties"]["Environment"]["Variables"]
    assert {k: variables.get(k) for k in SPOT_VARIABLES} == SPOT_VARIABLES


def test_the_training_task_passes_the_spot_fields_and_keeps_the_job_s_times() -> None:
    states = training_task()
    parameters = states["TrainCandidate"]["Parameters"]
    assert parameters["EnableManagedSpotTraining.$"] == "$.training.EnableManagedSpotTraining"
    assert parameters["CheckpointConfig.$"] == "$.training.CheckpointConfig"
    assert parameters["StoppingCondition.$"] == "$.training.StoppingCondition"
    selector = states["TrainCandidate"]["ResultSelector"]
    assert selector["training_seconds.$"] == "$.TrainingTimeInSeconds"
    assert selector["billable_seconds.$"] == "$.BillableTimeInSeconds"
    result = states["CandidateEvaluated"]["Parameters"]
    assert result["training_seconds.$"] == "$.trained.training_seconds"
    assert result["billable_seconds.$"] == "$.trained.billable_seconds"


@pytest.mark.parametrize(
    ("action", "resource_arn"),
    [
        ("s3:GetObject", "${ArtifactsBucket.Arn}/runs/run-1/checkpoints/rf/checkpoint-10.joblib"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/runs/run-1/checkpoints/rf/checkpoint-10.joblib"),
    ],
)
def test_the_jobs_role_reads_and_writes_checkpoints_under_the_run(
    action: str, resource_arn: str
) -> None:
    granted = [
        r if isinstance(r, str) else r.get("Fn::Sub")
        for s in statements("SageMakerJobsRole")
        if action in actions(s)
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert any(fnmatch(resource_arn, pattern) for pattern in granted if pattern)


def test_the_jobs_role_lists_the_checkpoint_prefix_to_restore_it() -> None:
    [listing] = [s for s in statements("SageMakerJobsRole") if "s3:ListBucket" in actions(s)]
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    assert any(fnmatch("runs/run-1/checkpoints/rf/", p) for p in prefixes)
