"""The README's worked example ("Your own training code"), run as written: a histogram
gradient-boosting candidate added in ml/ only, and the CandidateConfigs that names it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(marker: str) -> str:
    """The fenced block that follows `<!-- worked-example: {marker} ... -->` in the README."""
    found = re.search(
        rf"<!-- worked-example: {re.escape(marker)}[^>]*-->\n```\w*\n(.*?)\n```", README, re.S
    )
    assert found, f"README has no worked-example block {marker!r}"
    return found.group(1)


@pytest.fixture(scope="module")
def extended_ml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ml/ with the README's code appended to estimators.py, and nothing else."""
    copy = tmp_path_factory.mktemp("team") / "ml"
    shutil.copytree(ROOT / "ml", copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "estimators.py").open("a", encoding="utf-8") as handle:
        handle.write("\n\n" + block("appended to ml/estimators.py") + "\n")
    return copy


@pytest.mark.parametrize(
    ("problem", "data", "label", "metric", "good"),
    [
        ("binary_classification", "breast_cancer.csv", "malignant", "f1", lambda v: v > 0.9),
        ("regression", "diabetes.csv", "progression", "rmse", lambda v: v < 65.0),
    ],
)
def test_the_worked_example_trains_a_histogram_gradient_boosting_candidate(
    run_script, extended_ml: Path, tmp_path: Path, problem, data, label, metric, good
) -> None:
    [candidate] = [c for c in json.loads(block("CandidateConfigs")) if c["name"] == "hgb"]
    channel = tmp_path / "train"
    channel.mkdir()
    shutil.copy(ROOT / "ml" / "data" / data, channel)
    args = ["--algorithm", candidate["algorithm"], "--problem-type", problem, "--label", label]
    for name, value in candidate["hyperparameters"].items():
        args += [f"--{name.replace('_', '-')}", json.dumps(value)]
    env = {"SM_CHANNEL_TRAIN": str(channel), "SM_MODEL_DIR": str(tmp_path / "model"),
           "SM_OUTPUT_DATA_DIR": str(tmp_path / "out"), "SM_OUTPUT_DIR": str(tmp_path)}  # fmt: skip
    # run from the extended copy: the script imports its siblings from its own directory
    result = run_script("train.py", args, cwd=tmp_path, env=env, ml_dir=extended_ml)
    assert result.returncode == 0, result.stderr
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert metadata["algorithm"] == "hist_gradient_boosting"
    assert metadata["hyperparameters"]["max_iter"] == 200
    assert good(metadata["validation_metrics"][metric]), metadata["validation_metrics"]


def test_the_control_plane_takes_the_worked_example_without_a_change() -> None:
    from mlops_common.domain.candidates import check_candidates
    from mlops_common.models import Candidate

    candidates = [Candidate(**c) for c in json.loads(block("CandidateConfigs"))]
    for problem in ("binary_classification", "multiclass_classification", "regression"):
        check_candidates(candidates, problem)


def test_without_the_example_the_published_code_refuses_the_algorithm(
    run_script, tmp_path: Path
) -> None:
    env = {"SM_CHANNEL_TRAIN": str(ROOT / "ml" / "data" / "breast_cancer.csv"),
           "SM_MODEL_DIR": str(tmp_path / "model"), "SM_OUTPUT_DIR": str(tmp_path)}  # fmt: skip
    result = run_script("train.py", ["--algorithm", "hist_gradient_boosting"], tmp_path, env)
    assert result.returncode == 1
    assert "unknown algorithm 'hist_gradient_boosting'" in (tmp_path / "failure").read_text()
