"""A problem definition that does not hold together, in the twin: refused at deploy time by the
template's Rules, or by the run's first function at its cold start (ConfigurationInvalid),
before any job starts. (Its own module: the stacks of test_problem_types.py live per module.)"""

from __future__ import annotations

import pytest

from mlops.twin.cloudformation.rules import RuleFailed
from mlops.twin.stack import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def test_a_metric_of_another_problem_type_is_refused_at_deploy_time() -> None:
    with pytest.raises(RuleFailed, match="With ProblemType regression, PrimaryMetric must be"):
        start_stack(ProblemType="regression", PrimaryMetric="f1")


def test_a_threshold_the_metric_cannot_take_fails_the_run_before_any_job(make_stack) -> None:
    # Rules cannot compare numbers: a negative rmse ceiling deploys, and the first function
    # of the run refuses it by name at its cold start.
    stack = make_stack(ProblemType="regression", PrimaryMetric="rmse", MinimumMetric="-1",
                       LabelColumn="progression")  # fmt: skip
    data = (stack.twin.root / "ml" / "data" / "diabetes.csv").read_bytes()
    [training] = stack.run_upload("diabetes.csv", data)
    assert (training.status, training.error) == ("FAILED", "ConfigurationInvalid")
    assert "MinimumMetric -1.0 (ceiling of rmse)" in str(training.cause)
    assert stack.states_entered(training.arn) == ["ValidateDataset", "NotifyFailure", "Failed"]
    assert stack.training_jobs() == []
