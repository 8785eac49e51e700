"""Managed spot training in the shared layer: the request fields and their checks, the figures
a spot job reports, and the named outcome of a run whose jobs ran out of spot wait."""

import json
from typing import Any

import pytest
from mlops_common.domain.failure import describe_failure
from mlops_common.domain.outcome import summarize
from mlops_common.domain.selection import select_best
from mlops_common.domain.spot import saving_percent, spot_fields, time_figures
from mlops_common.domain.training import build_candidate_plan
from mlops_common.errors import ConfigurationInvalid, SpotCapacityUnavailable, TrainingFailed
from mlops_common.models import Candidate, CandidateResult, OutcomeInput
from mlops_common.settings import SelectCandidateSettings
from test_domain_selection import RUN as SELECTION_RUN
from test_domain_selection import failed
from test_domain_training_plan import RF, run, settings


def stopped_for_capacity(name: str = "mlops-0123456789-rf-train") -> str:
    """A failed .sync task's cause: the Describe document of a spot job past its wait."""
    return json.dumps(
        {
            "TrainingJobName": name,
            "TrainingJobStatus": "Stopped",
            "SecondaryStatus": "MaxWaitTimeExceeded",
            "EnableManagedSpotTraining": True,
        }
    )


# ---- the request ------------------------------------------------------------------------------


def test_on_demand_training_sets_no_wait_but_checkpoints_under_the_run() -> None:
    training = build_candidate_plan(run("run-7"), RF, settings()).training
    assert training["EnableManagedSpotTraining"] is False
    assert training["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert training["CheckpointConfig"] == {
        "S3Uri": "s3://mlops-artifacts/runs/run-7/checkpoints/rf/",
        "LocalPath": "/opt/ml/checkpoints",
    }


def test_spot_training_asks_for_spot_and_waits_up_to_the_configured_time() -> None:
    spot = settings(spot_training="true", spot_max_wait_seconds="5400", max_runtime_seconds="1800")
    training = build_candidate_plan(run(), RF, spot).training
    assert training["EnableManagedSpotTraining"] is True
    assert training["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 1800,
        "MaxWaitTimeInSeconds": 5400,
    }


def test_a_wait_equal_to_the_runtime_is_accepted() -> None:
    fields = spot_fields(True, 600, 600, "s3://b/runs/r/checkpoints/rf/")
    assert fields["StoppingCondition"]["MaxWaitTimeInSeconds"] == 600


def test_a_spot_wait_shorter_than_the_runtime_fails_the_cold_start_by_name() -> None:
    with pytest.raises(ConfigurationInvalid, match="SpotMaxWaitSeconds \\(600\\).*3600"):
        settings(spot_training="true", spot_max_wait_seconds="600")


def test_the_wait_is_not_checked_when_spot_training_is_off() -> None:
    assert settings(spot_training="false", spot_max_wait_seconds="600").spot_max_wait_seconds == 600


def test_validate_dataset_checks_the_spot_wait_too_so_a_run_fails_before_training(
    world: Any,
) -> None:
    with pytest.raises(ConfigurationInvalid, match="SpotMaxWaitSeconds"):
        world.validate_settings(spot_training=True, spot_max_wait_seconds=60)


# ---- the figures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("training", "billable", "saving"),
    [(500, 100, 80.0), (100, 100, 0.0), (3, 2, 33.3), (None, 2, None), (0, 0, None)],
)
def test_the_saving_is_one_minus_billable_over_training_in_percent(
    training: int | None, billable: int | None, saving: float | None
) -> None:
    assert saving_percent(training, billable) == saving


def test_time_figures_leave_unknown_values_out() -> None:
    assert time_figures(500, 100) == {
        "training_seconds": "500",
        "billable_seconds": "100",
        "spot_saving_percent": "80.0",
    }
    assert time_figures(None, None) == {}


# ---- running out of spot wait -----------------------------------------------------------------


def test_a_job_stopped_past_its_spot_wait_is_named_in_the_failure_line() -> None:
    name, detail = describe_failure({"Error": "States.TaskFailed", "Cause": stopped_for_capacity()})
    assert name == "SpotCapacityUnavailable"
    assert detail == "training job mlops-0123456789-rf-train stopped: MaxWaitTimeExceeded"


def test_a_run_whose_every_job_ran_out_of_spot_wait_fails_as_spot_capacity_unavailable(
    world: Any,
) -> None:
    results = [
        failed("rf", "States.TaskFailed", stopped_for_capacity("a")),
        failed("gb", "States.TaskFailed", stopped_for_capacity("b")),
    ]
    with pytest.raises(SpotCapacityUnavailable, match="rf: SpotCapacityUnavailable.*gb:"):
        select_best(SELECTION_RUN, results, SelectCandidateSettings(), world.store())


def test_a_run_with_another_failure_too_stays_training_failed_and_names_both(world: Any) -> None:
    results = [
        failed("rf", "States.TaskFailed", stopped_for_capacity()),
        failed("gb", "States.TaskFailed", json.dumps({"FailureReason": "AlgorithmError: boom"})),
    ]
    with pytest.raises(TrainingFailed, match="SpotCapacityUnavailable.*AlgorithmError: boom"):
        select_best(SELECTION_RUN, results, SelectCandidateSettings(), world.store())


# ---- the registered version's notification ----------------------------------------------------


def registered(best: dict[str, Any]) -> OutcomeInput:
    result = CandidateResult(status="EVALUATED", candidate=Candidate(name="rf", algorithm="x"))
    selection = {"best": result.model_dump(mode="json") | best}
    return OutcomeInput.model_validate(
        {
            "workflow": "training",
            "outcome": "REGISTERED",
            "execution": {"Id": "arn:aws:states:us-east-1:1:execution:t:r", "Name": "r"},
            "state": {"selection": {"Payload": selection}},
        }
    )


def test_the_registered_notification_gives_the_training_times_and_the_spot_saving() -> None:
    message = summarize(registered({"training_seconds": 412, "billable_seconds": 12}))
    assert message["training_time"] == {
        "training_seconds": "412",
        "billable_seconds": "12",
        "spot_saving_percent": "97.1",
    }
    assert message["summary"].endswith("(billed 12 s of 412 s training: 97.1% spot saving)")


def test_an_on_demand_registration_states_its_times_without_a_saving_in_the_summary() -> None:
    message = summarize(registered({"training_seconds": 40, "billable_seconds": 40}))
    assert message["training_time"]["spot_saving_percent"] == "0.0"
    assert "saving" not in message["summary"]
