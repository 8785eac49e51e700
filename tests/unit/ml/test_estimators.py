"""ml/estimators.py: one algorithm name, the estimator suited to each problem type."""

from __future__ import annotations

import estimators
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline


@pytest.mark.parametrize(
    ("name", "problem", "kind"),
    [
        ("random_forest", "binary_classification", RandomForestClassifier),
        ("random_forest", "multiclass_classification", RandomForestClassifier),
        ("random_forest", "regression", RandomForestRegressor),
        ("gradient_boosting", "binary_classification", GradientBoostingClassifier),
        ("gradient_boosting", "regression", GradientBoostingRegressor),
        ("linear", "multiclass_classification", LogisticRegression),
        ("linear", "regression", Ridge),
        ("logistic_regression", "binary_classification", LogisticRegression),
    ],
)
def test_an_algorithm_builds_the_estimator_of_the_problem_type(name, problem, kind) -> None:
    estimator, _ = estimators.build(name, problem, {}, seed=3)
    model = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    assert isinstance(model, kind)


def test_hyperparameters_arrive_as_sagemaker_passes_them_and_defaults_fill_the_rest() -> None:
    forest, values = estimators.build(
        "random_forest", "regression", {"n_estimators": '"7"', "max_depth": ""}, seed=3
    )
    assert values == {"n_estimators": 7, "max_depth": None}
    assert (forest.n_estimators, forest.max_depth, forest.n_jobs, forest.random_state) == (
        7, None, 1, 3,
    )  # fmt: skip
    boosting, values = estimators.build("gradient_boosting", "binary_classification", {}, 0)
    assert values == {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1}


def test_linear_c_means_the_same_regularisation_for_classes_and_numbers() -> None:
    classifier, _ = estimators.build("linear", "binary_classification", {"c": "0.25"}, 0)
    regressor, _ = estimators.build("linear", "regression", {"c": "0.25"}, 0)
    assert classifier.steps[-1][1].C == 0.25
    assert regressor.steps[-1][1].alpha == 2.0  # 1 / (2C), as scikit-learn's Ridge documents


@pytest.mark.parametrize(
    ("name", "problem", "given", "message"),
    [
        ("svm", "regression", {}, r"unknown algorithm 'svm'; this code offers \['gradient_b"),
        ("logistic_regression", "regression", {}, "does not solve regression; it solves"),
        ("gradient_boosting", "regression", {"c": "1"}, r"does not take \['c'\]; its hyperp"),
        ("random_forest", "regression", {"n_estimators": "many"}, "n_estimators: expected a pos"),
        ("random_forest", "regression", {"max_depth": "0"}, "max_depth: expected a positive"),
        ("linear", "regression", {"c": "-1"}, "c: expected a number above 0, got '-1'"),
        ("linear", "regression", {"c": "true"}, "c: expected a number above 0"),
        ("random_forest", "clustering", {}, "unknown problem type 'clustering'"),
    ],
)
def test_a_candidate_that_cannot_be_built_is_refused_naming_why(name, problem, given, message):
    with pytest.raises(ValueError, match=message):
        estimators.build(name, problem, given, seed=0)


def test_every_built_in_algorithm_declares_its_problem_types() -> None:
    assert {name: a.problem_types() for name, a in estimators.REGISTRY.items()} == {
        "random_forest": ("binary_classification", "multiclass_classification", "regression"),
        "gradient_boosting": ("binary_classification", "multiclass_classification", "regression"),
        "linear": ("binary_classification", "multiclass_classification", "regression"),
        "logistic_regression": ("binary_classification", "multiclass_classification"),
    }
    with pytest.raises(ValueError, match="needs a classifier, a regressor or both"):
        estimators.register("nothing")
