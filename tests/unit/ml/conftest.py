"""Fixtures for the SageMaker script-mode code in ml/.

The scripts run as subprocesses with SM_* variables pointing into tmp dirs, the way the
SageMaker scikit-learn container runs them (`python train.py --hyperparameter value ...`).
Tests import the modules by their top-level names (`import common`), as the container does
with ml/ on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ML_DIR = Path(__file__).resolve().parents[3] / "ml"
if str(ML_DIR) not in sys.path:
    sys.path.insert(0, str(ML_DIR))
DATASET = ML_DIR / "data" / "breast_cancer.csv"
WINE = ML_DIR / "data" / "wine.csv"
DIABETES = ML_DIR / "data" / "diabetes.csv"
#: dataset, label column, problem type, primary metric: the three shipped datasets
PROBLEMS = {
    "binary_classification": (DATASET, "malignant"),
    "multiclass_classification": (WINE, "cultivar"),
    "regression": (DIABETES, "progression"),
}
# A hung script should fail the test, not the whole run; this is not a performance assertion.
SCRIPT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class TrainingRun:
    result: subprocess.CompletedProcess[str]
    model_dir: Path
    output_dir: Path

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"


RunScript = Callable[..., subprocess.CompletedProcess]
RunTraining = Callable[..., TrainingRun]
PackModel = Callable[[Path, Path], Path]


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep ml/ free of __pycache__
    env.update(extra)
    return env


def run_ml_script(
    script: str,
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    ml_dir: Path = ML_DIR,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ml_dir / script), *args],
        cwd=cwd,  # not ml/: the script must find common.py through its own directory
        env=_clean_env(env or {}),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )


def run_training(root: Path, args: Sequence[str] = (), data: Path | None = DATASET) -> TrainingRun:
    """train.py with the container's layout under `root` (root stands for /opt/ml)."""
    channel = root / "input" / "data" / "train"
    channel.mkdir(parents=True, exist_ok=True)
    if data is not None:
        (channel / data.name).write_bytes(data.read_bytes())
    env = {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_CHANNEL_TRAIN": str(channel),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_OUTPUT_DIR": str(root / "output"),
    }
    result = run_ml_script("train.py", args, cwd=root, env=env)
    return TrainingRun(result=result, model_dir=root / "model", output_dir=root / "output")


def pack_model(model_dir: Path, archive: Path) -> Path:
    """model.tar.gz as SageMaker uploads it: the model dir's files at the archive root."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


@pytest.fixture
def run_script() -> RunScript:
    return run_ml_script


@pytest.fixture
def train_model() -> RunTraining:
    return run_training


@pytest.fixture
def pack() -> PackModel:
    return pack_model


@pytest.fixture(scope="session")
def trained_random_forest(tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    """One default training run shared by the tests that only read its outputs."""
    run = run_training(tmp_path_factory.mktemp("opt-ml"))
    assert run.result.returncode == 0, run.result.stderr
    return run


@pytest.fixture(scope="session")
def trained_per_problem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainingRun]:
    """A random forest trained on each shipped dataset, by problem type."""
    runs = {}
    for problem, (data, label) in PROBLEMS.items():
        args = ["--problem-type", problem, "--label", label, "--n-estimators", "30"]
        run = run_training(tmp_path_factory.mktemp(problem), args, data)
        assert run.result.returncode == 0, run.result.stderr
        runs[problem] = run
    return runs


@pytest.fixture(scope="session")
def random_forest_archive(
    trained_random_forest: TrainingRun, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return pack_model(
        trained_random_forest.model_dir, tmp_path_factory.mktemp("s3") / "model.tar.gz"
    )
