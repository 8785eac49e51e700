"""domain.problem and domain.candidates: the stack's problem definition, checked before
anything trains, and the layer's copies of ml/'s tables (the layer cannot import ml/)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from mlops_common.domain import candidates, problem
from mlops_common.domain.candidates import check_candidates
from mlops_common.domain.problem import check_gate, check_problem
from mlops_common.errors import ConfigurationInvalid
from mlops_common.models import Candidate

ML_DIR = Path(__file__).resolve().parents[3] / "ml"


def ml_module(name: str):
    """ml/<name>.py as the jobs import it (top-level, ml/ on sys.path)."""
    if str(ML_DIR) not in sys.path:
        sys.path.insert(0, str(ML_DIR))
    return importlib.import_module(name)


def test_the_layer_metric_table_is_the_one_evaluation_scores_with() -> None:
    ml = ml_module("problems")
    assert set(problem.METRICS) == set(ml.METRICS)
    for name, metric in problem.METRICS.items():
        assert (metric.direction, metric.problem_types) == ml.METRICS[name], name
    assert problem.PROBLEM_TYPES == ml.PROBLEM_TYPES
    for problem_type in problem.PROBLEM_TYPES:
        assert problem.metric_names(problem_type) == ml.metric_names(problem_type)


def test_the_layer_knows_the_built_in_algorithms_as_ml_registers_them() -> None:
    ml = ml_module("estimators")
    assert set(candidates.BUILT_IN) == set(ml.REGISTRY)
    for name, known in candidates.BUILT_IN.items():
        algorithm = ml.REGISTRY[name]
        assert known.problem_types == algorithm.problem_types(), name
        assert known.hyperparameters == set(algorithm.hyperparameters), name


@pytest.mark.parametrize(
    ("problem_type", "metric"),
    [("binary_classification", "f1"), ("binary_classification", "roc_auc"),
     ("multiclass_classification", "macro_f1"), ("multiclass_classification", "accuracy"),
     ("regression", "rmse"), ("regression", "r2")],
)  # fmt: skip
def test_each_problem_type_accepts_its_metrics(problem_type: str, metric: str) -> None:
    check_problem(problem_type, metric, "1", 20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("binary_classification", "rmse", "1", 20),
         "PrimaryMetric 'rmse' does not apply to binary_classification (its metrics: f1, roc_auc"),
        (("regression", "f1", "1", 20), "PrimaryMetric 'f1' does not apply to regression"),
        (("multiclass_classification", "roc_auc", "1", 20), "does not apply to multiclass"),
        (("clustering", "f1", "1", 20), "ProblemType 'clustering' is not one of"),
        (("binary_classification", "f1", " ", 20), "PositiveLabel ' ' cannot be a label value"),
        (("binary_classification", "f1", "1", 20, "a,b"), "LabelColumn 'a,b' cannot be a CSV"),
        (("regression", "rmse", "1", 20, ""), "LabelColumn '' cannot be a CSV column name"),
        (("multiclass_classification", "macro_f1", "1", 1), "MaxClasses 1 is not between 2"),
    ],
)  # fmt: skip
def test_a_problem_that_does_not_hold_together_is_configuration_invalid(args, message) -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        check_problem(*args)
    assert message in str(excinfo.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        check_problem("multiclass_classification", "rmse", "1", 5000)
    assert str(excinfo.value).count("; ") == 1


@pytest.mark.parametrize(
    ("metric", "minimum", "margin"),
    [("f1", 0.9, 0.005), ("rmse", 65.0, 2.5), ("mae", 0.0, 0.0), ("r2", -0.5, 0.01)],
)
def test_minimum_metric_is_a_floor_or_a_ceiling_in_the_metrics_units(metric, minimum, margin):
    check_gate(metric, minimum, margin)


@pytest.mark.parametrize(
    ("metric", "minimum", "margin", "message"),
    [
        ("f1", 1.5, 0.005, "MinimumMetric 1.5 (floor of f1) is outside the values f1 takes"),
        ("rmse", -1.0, 0.5, "MinimumMetric -1.0 (ceiling of rmse) is outside"),
        ("r2", 1.2, 0.01, "(floor of r2)"),
        ("f1", 0.9, -0.1, "ImprovementMargin -0.1 is not a distance"),
        ("accuracy", 0.9, 2.0, "ImprovementMargin 2.0 is not a distance"),
    ],
)
def test_a_threshold_the_metric_cannot_reach_is_configuration_invalid(
    metric, minimum, margin, message
) -> None:
    with pytest.raises(ConfigurationInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_gate(metric, minimum, margin)


def candidate(algorithm: str, name: str = "c", **hyperparameters) -> Candidate:
    return Candidate(name=name, algorithm=algorithm, hyperparameters=hyperparameters)


def test_the_default_candidates_suit_every_problem_type(template) -> None:
    import json

    defaults = [Candidate(**c) for c in json.loads(template["Parameters"]["CandidateConfigs"]
                                                   ["Default"])]  # fmt: skip
    for problem_type in problem.PROBLEM_TYPES:
        check_candidates(defaults, problem_type)


@pytest.mark.parametrize(
    ("candidate", "problem_type", "message"),
    [
        (candidate("logistic_regression", "lr"), "regression",
         "candidate lr: logistic_regression does not solve regression; it solves"),
        (candidate("gradient_boosting", "gb", c=1.0), "binary_classification",
         "candidate gb: gradient_boosting does not take ['c']; its hyperparameters are"),
        (candidate("random_forest", "rf", seed=3), "regression",
         "candidate rf: ['seed'] are set by the stack, not a candidate"),
        (candidate("my_model", "mine", **{"problem-type": "x"}), "regression",
         "candidate mine: ['problem_type'] are set by the stack"),
    ],
)  # fmt: skip
def test_a_candidate_that_cannot_solve_the_problem_is_refused_before_training(
    candidate, problem_type, message
) -> None:
    with pytest.raises(ConfigurationInvalid) as excinfo:
        check_candidates([candidate], problem_type)
    assert message in str(excinfo.value)


def test_an_algorithm_the_layer_does_not_know_is_left_to_the_published_code() -> None:
    check_candidates([candidate("hist_gradient_boosting", "hgb", max_iter=50)], "regression")
