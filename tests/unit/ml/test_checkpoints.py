"""Checkpoints for managed spot training (ml/checkpoints.py, train.py): an interrupted training
resumes from its newest complete checkpoint and ends with the model an uninterrupted training
gives; what cannot resume trains from scratch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import checkpoints
import joblib
import numpy as np
import pytest
import train
from conftest import DATASET, DIABETES, run_training
from sklearn.datasets import make_classification
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression


class Interrupted(Exception):
    """Stands for the spot interruption: the process ends after a checkpoint."""


def interrupt_after(monkeypatch: pytest.MonkeyPatch, saves: int) -> list[int]:
    """checkpoints.save that raises Interrupted once `saves` checkpoints are written."""
    real_save, written = checkpoints.save, []

    def save(directory: Path, estimator: Any, step: int, mark: str) -> Path:
        path = real_save(directory, estimator, step, mark)
        written.append(step)
        if len(written) == saves:
            raise Interrupted(f"after {step} estimators")
        return path

    monkeypatch.setattr(checkpoints, "save", save)
    return written


def train_in(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str, data: Path = DATASET) -> Any:
    """train.py's train() in-process, with the container's layout under `root`."""
    channel = root / "input" / "data" / "train"
    channel.mkdir(parents=True, exist_ok=True)
    (channel / data.name).write_bytes(data.read_bytes())
    (root / "checkpoints").mkdir(exist_ok=True)
    for name, sub in (
        ("SM_MODEL_DIR", "model"),
        ("SM_CHANNEL_TRAIN", "input/data/train"),
        ("SM_OUTPUT_DATA_DIR", "output/data"),
    ):
        monkeypatch.setenv(name, str(root / sub))
    return train.train(train.parse_args(["--checkpoint-dir", str(root / "checkpoints"), *args]))


def predictions(root: Path, data: Path = DATASET) -> np.ndarray:
    model = joblib.load(root / "model" / "model.joblib")
    features = np.loadtxt(data, delimiter=",", skiprows=1)[:, :-1]
    return model.predict(features)


@pytest.mark.parametrize(
    ("algorithm", "problem", "data"),
    [
        ("random_forest", "binary_classification", DATASET),
        ("gradient_boosting", "binary_classification", DATASET),
        ("gradient_boosting", "regression", DIABETES),
    ],
)
def test_an_interrupted_training_resumes_and_ends_with_the_uninterrupted_model(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    algorithm: str,
    problem: str,
    data: Path,
) -> None:
    label = {DATASET: "malignant", DIABETES: "progression"}[data]
    args = [
        "--algorithm",
        algorithm,
        "--n-estimators",
        "40",
        "--problem-type",
        problem,
        "--label",
        label,
    ]
    # Given a training interrupted after its third checkpoint (12 of 40 estimators),
    written = interrupt_after(monkeypatch, 3)
    with pytest.raises(Interrupted):
        train_in(tmp_path / "spot", monkeypatch, *args, data=data)
    assert written == [4, 8, 12]
    assert [p.name for p in (tmp_path / "spot" / "checkpoints").iterdir()] == [
        "checkpoint-000012.joblib"
    ]
    monkeypatch.undo()
    # when it starts again on the same checkpoint directory,
    metadata = train_in(tmp_path / "spot", monkeypatch, *args, data=data)
    # then it says it resumed, fits only the rest, and the model is the uninterrupted one.
    assert "checkpoint: resumed from checkpoint-000012.joblib: 12 of 40" in capsys.readouterr().out
    assert metadata["checkpoint"] == {"resumed_from": 12, "written": 7}
    train_in(tmp_path / "on-demand", monkeypatch, *args, data=data)
    assert np.array_equal(
        predictions(tmp_path / "spot", data), predictions(tmp_path / "on-demand", data)
    )
    resumed = joblib.load(tmp_path / "spot" / "model" / "model.joblib")
    whole = joblib.load(tmp_path / "on-demand" / "model" / "model.joblib")
    assert resumed.get_params() == whole.get_params() and not resumed.warm_start
    assert len(resumed.estimators_) == len(whole.estimators_) == 40


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=25, random_state=7),
        GradientBoostingClassifier(n_estimators=25, subsample=0.7, random_state=7),
    ],
    ids=["forest", "boosting-subsampled"],
)
def test_fitting_in_steps_equals_one_fit_with_the_same_seed(estimator: Any, tmp_path: Path) -> None:
    x, y = make_classification(300, 8, random_state=1)
    whole = type(estimator)(**estimator.get_params()).fit(x, y)
    stepped = checkpoints.fit(estimator, x, y, tmp_path, print_=lambda _: None, steps=4)
    assert stepped["checkpoints"] == 4
    assert np.array_equal(stepped["estimator"].predict_proba(x), whole.predict_proba(x))


def test_the_regressor_forest_resumes_too(tmp_path: Path) -> None:
    x, y = make_classification(300, 8, random_state=1)
    y = y.astype(float) * 3.5
    mark = checkpoints.fingerprint({"k": 1}, x, y)
    partial = RandomForestRegressor(n_estimators=10, random_state=2, warm_start=True).fit(x, y)
    checkpoints.save(tmp_path, partial, 10, mark)
    resumed = checkpoints.fit(
        RandomForestRegressor(n_estimators=30, random_state=2),
        x,
        y,
        tmp_path,
        print_=lambda _: None,
        steps=3,
        settings={"k": 1},
    )
    whole = RandomForestRegressor(n_estimators=30, random_state=2).fit(x, y)
    assert resumed["resumed_from"] == 10
    assert np.array_equal(resumed["estimator"].predict(x), whole.predict(x))


def test_a_checkpoint_of_another_training_is_ignored(tmp_path: Path) -> None:
    x, y = make_classification(200, 5, random_state=1)
    stale = RandomForestClassifier(n_estimators=5, random_state=2, warm_start=True).fit(
        x[:50], y[:50]
    )
    checkpoints.save(tmp_path, stale, 5, "another training's fingerprint")
    said: list[str] = []
    fitted = checkpoints.fit(
        RandomForestClassifier(n_estimators=10, random_state=2),
        x,
        y,
        tmp_path,
        print_=said.append,
        steps=2,
    )
    assert fitted["resumed_from"] == 0
    assert any("of another training; starting from scratch" in line for line in said)


def test_an_unreadable_newest_checkpoint_falls_back_to_the_one_before(tmp_path: Path) -> None:
    x, y = make_classification(200, 5, random_state=1)
    mark = checkpoints.fingerprint({"k": 1}, x, y)
    older = RandomForestClassifier(n_estimators=4, random_state=2, warm_start=True).fit(x, y)
    joblib.dump(
        {"fingerprint": mark, "step": 4, "estimator": older}, tmp_path / "checkpoint-000004.joblib"
    )
    (tmp_path / "checkpoint-000008.joblib").write_bytes(b"cut short by the interruption")
    estimator, step, name = checkpoints.latest(tmp_path, mark, print_=lambda _: None)
    assert (step, name) == (4, "checkpoint-000004.joblib")


def test_a_model_that_cannot_train_in_steps_writes_no_checkpoint(tmp_path: Path) -> None:
    x, y = make_classification(200, 5, random_state=1)
    fitted = checkpoints.fit(LogisticRegression(), x, y, tmp_path, print_=lambda _: None)
    assert fitted == {"estimator": fitted["estimator"], "resumed_from": 0, "checkpoints": 0}
    assert list(tmp_path.iterdir()) == []


def test_without_a_checkpoint_directory_train_py_trains_in_one_fit(tmp_path: Path) -> None:
    run = run_training(
        tmp_path, ["--n-estimators", "10", "--checkpoint-dir", str(tmp_path / "none")]
    )
    assert run.result.returncode == 0, run.result.stderr
    assert not (tmp_path / "none").exists()
    assert "checkpoint:" not in run.result.stdout
