"""CandidateConfigs checked against ProblemType before anything trains.

The algorithms ml/estimators.py ships are known here by name (a copy: a test compares it with
ml/), with the problem types each solves and the hyperparameters each takes. An algorithm this
table does not know is a team's own, added in ml/ (README: "Your own training code"): the
layer cannot see inside a published code version, so the training job judges it when it
starts. Every candidate, known or not, may not set what the stack sets for every job.
"""

from dataclasses import dataclass

from ..errors import ConfigurationInvalid
from ..models import Candidate
from .problem import BINARY, MULTICLASS, PROBLEM_TYPES

CLASSIFICATION = (BINARY, MULTICLASS)


@dataclass(frozen=True)
class KnownAlgorithm:
    problem_types: tuple[str, ...]
    hyperparameters: frozenset[str]


BUILT_IN = {
    "random_forest": KnownAlgorithm(PROBLEM_TYPES, frozenset({"n_estimators", "max_depth"})),
    "gradient_boosting": KnownAlgorithm(
        PROBLEM_TYPES, frozenset({"n_estimators", "max_depth", "learning_rate"})
    ),
    "linear": KnownAlgorithm(PROBLEM_TYPES, frozenset({"c"})),
    "logistic_regression": KnownAlgorithm(CLASSIFICATION, frozenset({"c"})),
}
#: Job arguments the stack sets from its parameters (domain.training's split arguments and
#: PrepareCandidateSettings.problem_arguments): a candidate setting one would be overridden.
STACK_ARGUMENTS = frozenset(
    {"algorithm", "label", "test_size", "seed", "problem_type", "positive_label", "max_classes"}
)


def check_candidates(candidates: list[Candidate], problem_type: str) -> None:
    """ConfigurationInvalid naming every candidate that cannot solve `problem_type`."""
    found = []
    for candidate in candidates:
        given = {name.replace("-", "_") for name in candidate.hyperparameters}
        reserved = sorted(given & STACK_ARGUMENTS)
        if reserved:
            found.append(f"candidate {candidate.name}: {reserved} are set by the stack, not a "
                         "candidate")  # fmt: skip
        known = BUILT_IN.get(candidate.algorithm)
        if known is None:
            continue  # a team's own algorithm: ml/estimators.py judges it
        if problem_type not in known.problem_types:
            found.append(
                f"candidate {candidate.name}: {candidate.algorithm} does not solve "
                f"{problem_type}; it solves {list(known.problem_types)}"
            )
        unknown = sorted(given - known.hyperparameters - STACK_ARGUMENTS)
        if unknown:
            found.append(
                f"candidate {candidate.name}: {candidate.algorithm} does not take {unknown}; "
                f"its hyperparameters are {sorted(known.hyperparameters)}"
            )
    if found:
        raise ConfigurationInvalid("; ".join(found))
