"""The algorithms a candidate may name (CandidateConfigs `algorithm`), per problem type.

An algorithm is a family: one name, a classifier for binary and multiclass problems and a
regressor for regression (or only one of them), and the hyperparameters it takes with their
defaults. train.py builds the estimator for the stack's ProblemType from here; a candidate
whose algorithm has no estimator for that problem type, or that passes a hyperparameter the
algorithm does not take, fails before anything is fitted.

To add an algorithm, call `register(...)` at the end of this file (README: "Your own training
code"); nothing outside ml/ changes. The control plane knows the built-in names below and
checks them before any job starts; a name it does not know is your code's, and this module is
its judge when the training job starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from problems import REGRESSION, check_problem_type
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

Builder = Callable[[dict[str, Any], int], Any]  # (hyperparameters, seed) -> unfitted estimator
NO_VALUE = ("", "none", "null")


# ---- hyperparameter types: text as SageMaker passes it -> a checked value ---------------------
def _decoded(value: Any) -> Any:
    """A number from its text, undoing the JSON encoding a caller may have kept ('"3"')."""
    for _ in range(2):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def positive_int(value: Any) -> int:
    decoded = _decoded(value)
    if isinstance(decoded, bool) or not isinstance(decoded, (int, float)):
        raise ValueError(f"expected a positive integer, got {value!r}")
    if decoded != int(decoded) or decoded < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return int(decoded)


def optional_positive_int(value: Any) -> int | None:
    if value is None or str(value).strip().lower() in NO_VALUE:
        return None
    return positive_int(value)


def positive_float(value: Any) -> float:
    decoded = _decoded(value)
    if isinstance(decoded, bool) or not isinstance(decoded, (int, float)) or not decoded > 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return float(decoded)


Hyperparameters = dict[str, tuple[Callable[[Any], Any], Any]]  # name -> (type, default)


class Algorithm:
    def __init__(
        self,
        name: str,
        classifier: Builder | None,
        regressor: Builder | None,
        hyperparameters: Hyperparameters,
    ) -> None:
        self.name = name
        self.classifier = classifier
        self.regressor = regressor
        self.hyperparameters = hyperparameters

    def problem_types(self) -> tuple[str, ...]:
        kinds = []
        if self.classifier is not None:
            kinds += ["binary_classification", "multiclass_classification"]
        if self.regressor is not None:
            kinds.append(REGRESSION)
        return tuple(kinds)

    def values(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every hyperparameter with its value: given (checked) or default."""
        unknown = sorted(set(given) - set(self.hyperparameters))
        if unknown:
            raise ValueError(
                f"{self.name} does not take {unknown}; its hyperparameters are "
                f"{sorted(self.hyperparameters)}"
            )
        out = {}
        for name, (kind, default) in self.hyperparameters.items():
            if name not in given:
                out[name] = default
                continue
            try:
                out[name] = kind(given[name])
            except ValueError as exc:
                raise ValueError(f"{self.name} hyperparameter {name}: {exc}") from None
        return out


REGISTRY: dict[str, Algorithm] = {}


def register(
    name: str,
    classifier: Builder | None = None,
    regressor: Builder | None = None,
    hyperparameters: Hyperparameters | None = None,
) -> None:
    if classifier is None and regressor is None:
        raise ValueError(f"algorithm {name!r} needs a classifier, a regressor or both")
    REGISTRY[name] = Algorithm(name, classifier, regressor, dict(hyperparameters or {}))


def build(name: str, problem_type: str, given: dict[str, Any], seed: int) -> tuple[Any, dict]:
    """(unfitted estimator, the hyperparameters it was built with)."""
    check_problem_type(problem_type)
    if name not in REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}; this code offers {sorted(REGISTRY)}")
    algorithm = REGISTRY[name]
    builder = algorithm.regressor if problem_type == REGRESSION else algorithm.classifier
    if builder is None:
        raise ValueError(
            f"algorithm {name!r} does not solve {problem_type}; it solves "
            f"{list(algorithm.problem_types())}"
        )
    values = algorithm.values(given)
    return builder(values, seed), values


def _scaled(model: Any) -> Any:
    # Features can span orders of magnitude; linear models converge badly without scaling.
    return Pipeline([("scale", StandardScaler()), ("model", model)])


# ---- the built-in algorithms (the control plane's copy: mlops_common/domain/candidates.py) ----
register(
    "random_forest",
    # n_jobs=1: training jobs are small and twin jobs share the host's cores.
    classifier=lambda hp, seed: RandomForestClassifier(
        n_estimators=hp["n_estimators"], max_depth=hp["max_depth"], n_jobs=1, random_state=seed
    ),
    regressor=lambda hp, seed: RandomForestRegressor(
        n_estimators=hp["n_estimators"], max_depth=hp["max_depth"], n_jobs=1, random_state=seed
    ),
    hyperparameters={
        "n_estimators": (positive_int, 100),
        "max_depth": (optional_positive_int, None),
    },
)
register(
    "gradient_boosting",
    classifier=lambda hp, seed: GradientBoostingClassifier(
        n_estimators=hp["n_estimators"],
        max_depth=hp["max_depth"],
        learning_rate=hp["learning_rate"],
        random_state=seed,
    ),
    regressor=lambda hp, seed: GradientBoostingRegressor(
        n_estimators=hp["n_estimators"],
        max_depth=hp["max_depth"],
        learning_rate=hp["learning_rate"],
        random_state=seed,
    ),
    hyperparameters={
        "n_estimators": (positive_int, 100),
        "max_depth": (positive_int, 3),
        "learning_rate": (positive_float, 0.1),
    },
)
# "linear": logistic regression for classes, ridge regression for numbers. `c` is the inverse
# regularisation strength of both: Ridge's alpha corresponds to 1 / (2C) (scikit-learn's Ridge
# documentation), so one value means the same for either problem type.
register(
    "linear",
    classifier=lambda hp, seed: _scaled(
        LogisticRegression(C=hp["c"], max_iter=1000, random_state=seed)
    ),
    regressor=lambda hp, seed: _scaled(Ridge(alpha=1.0 / (2.0 * hp["c"]))),
    hyperparameters={"c": (positive_float, 1.0)},
)
register(
    "logistic_regression",
    classifier=lambda hp, seed: _scaled(
        LogisticRegression(C=hp["c"], max_iter=1000, random_state=seed)
    ),
    hyperparameters={"c": (positive_float, 1.0)},
)
