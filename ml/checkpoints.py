"""Checkpoints for managed spot training: fit in steps, save after each, resume from the newest.

SageMaker syncs the job's checkpoint directory (CheckpointConfig.LocalPath, /opt/ml/checkpoints
by default) with CheckpointConfig.S3Uri while the job runs, and copies it back before the
script starts again after a spot interruption ("Checkpoints in Amazon SageMaker AI", SageMaker
developer guide). What resumes here:

- Ensembles that grow with `warm_start` (random_forest, gradient_boosting): they are fitted in
  `steps` equal increments of `n_estimators`; after each, the estimator so far is saved. A
  restarted job loads the newest complete checkpoint and fits only the trees still missing.
  The result equals an uninterrupted fit with the same seed: a forest draws each new tree's
  random state after skipping the states of the trees it has (scikit-learn's warm_start), and
  gradient boosting keeps its random generator in the pickled estimator, so the trees fitted
  after a resume are the ones an uninterrupted fit would have fitted (tests/unit/ml show it).
- Anything else (linear, logistic_regression, an algorithm of your own without warm_start and
  n_estimators) trains in one step and, after an interruption, from scratch.

A checkpoint is written to a temporary name and renamed, so a file under its final name is
complete; it records a fingerprint of the algorithm, hyperparameters, seed and training data,
and one written for anything else is ignored (a reused prefix, a changed dataset).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable  # noqa: UP035 - the container's Python may be older

import joblib
import numpy as np

PREFIX, SUFFIX = "checkpoint-", ".joblib"
DEFAULT_STEPS = 10


def default_directory() -> Path:
    """CheckpointConfig.LocalPath's default, under the container's /opt/ml (the toolkit's
    SAGEMAKER_BASE_DIR where that is elsewhere)."""
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "checkpoints"


def fingerprint(settings: dict[str, Any], x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for array in (x, y):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def resumable(estimator: Any) -> bool:
    """Whether the estimator grows in steps: warm_start and n_estimators (not a Pipeline)."""
    params = estimator.get_params(deep=False)
    return "warm_start" in params and "n_estimators" in params


def fit(
    estimator: Any,
    x: np.ndarray,
    y: np.ndarray,
    directory: Path | None,
    print_: Callable[[str], None] = print,
    steps: int = DEFAULT_STEPS,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit `estimator` (in place when it does not resume), checkpointing into `directory`.

    Returns {"estimator", "resumed_from" (trees loaded, 0 if none), "checkpoints" (written)}.
    Without a directory, or for an estimator that does not grow in steps, it is one plain fit.
    """
    if directory is None or not resumable(estimator):
        estimator.fit(x, y)
        return {"estimator": estimator, "resumed_from": 0, "checkpoints": 0}
    directory.mkdir(parents=True, exist_ok=True)
    mark = fingerprint(settings or estimator.get_params(deep=False), x, y)
    total = int(estimator.get_params()["n_estimators"])
    found = latest(directory, mark, print_)
    done = 0
    if found is not None:
        estimator, done, name = found
        print_(f"checkpoint: resumed from {name}: {done} of {total} estimators already fitted")
    written = 0
    size = max(1, -(-total // max(1, steps)))  # ceil(total / steps)
    for target in range(done + size, total + size, size):
        target = min(target, total)
        estimator.set_params(warm_start=True, n_estimators=target)
        estimator.fit(x, y)
        save(directory, estimator, target, mark)
        written += 1
        print_(f"checkpoint: saved {target} of {total} estimators")
    estimator.set_params(warm_start=False)  # as an uninterrupted fit leaves it
    return {"estimator": estimator, "resumed_from": done, "checkpoints": written}


def save(directory: Path, estimator: Any, step: int, mark: str) -> Path:
    """checkpoint-<step>.joblib, complete or absent (temporary name, then rename); older
    checkpoints are removed once it is in place."""
    final = directory / f"{PREFIX}{step:06d}{SUFFIX}"
    temporary = directory / f".{final.name}.tmp"
    joblib.dump({"fingerprint": mark, "step": step, "estimator": estimator}, temporary)
    os.replace(temporary, final)
    for older in directory.glob(f"{PREFIX}*{SUFFIX}"):
        if older != final and _step(older) < step:
            older.unlink(missing_ok=True)
    return final


def latest(
    directory: Path, mark: str, print_: Callable[[str], None] = print
) -> tuple[Any, int, str] | None:
    """(estimator, step, file name) of the newest readable checkpoint written for `mark`."""
    for path in sorted(directory.glob(f"{PREFIX}*{SUFFIX}"), key=_step, reverse=True):
        try:
            saved = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - a damaged file: try the one before
            print(
                f"checkpoint: {path.name} unreadable ({exc}); trying an older one", file=sys.stderr
            )
            continue
        if not isinstance(saved, dict) or saved.get("fingerprint") != mark:
            print_(f"checkpoint: {path.name} is of another training; starting from scratch")
            return None
        return saved["estimator"], int(saved["step"]), path.name
    return None


def _step(path: Path) -> int:
    try:
        return int(path.name[len(PREFIX) : -len(SUFFIX)])
    except ValueError:
        return -1
