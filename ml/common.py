"""Helpers shared by train.py, evaluate.py and inference.py.

This file ships inside sourcedir.tar.gz and runs in the SageMaker scikit-learn container
(scikit-learn 1.2, an older Python), so it sticks to APIs available there: no `zip(strict=)`,
no match statements, and annotations stay strings (`from __future__ import annotations`).
"""

from __future__ import annotations

import csv
import json
import math
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_LABEL = "malignant"
DEFAULT_TEST_SIZE = 0.2
DEFAULT_SEED = 42
POSITIVE_CLASS = 1
ALGORITHMS = ("random_forest", "gradient_boosting", "logistic_regression")
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")
MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "metadata.json"
ARCHIVE_FILENAME = "model.tar.gz"


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # float64, shape (rows, len(feature_names))
    labels: np.ndarray  # int64 0/1, shape (rows,)
    feature_names: list[str]
    label: str

    def columns(self, names: list[str]) -> np.ndarray:
        """Feature matrix with columns in `names` order (a model's training order)."""
        missing = [name for name in names if name not in self.feature_names]
        if missing:
            raise ValueError(f"data lacks feature column(s) the model needs: {missing}")
        return self.features[:, [self.feature_names.index(name) for name in names]]


@dataclass(frozen=True)
class LoadedModel:
    estimator: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])


def csv_files(path: str | Path) -> list[Path]:
    """One CSV file, or every *.csv under a directory (sorted, so row order is deterministic)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"data path does not exist: {path}")
    files = sorted(p for p in path.rglob("*.csv") if p.is_file())
    if not files:
        raise ValueError(f"no CSV files in data directory {path}")
    return files


def _parse_number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: column {column!r} is not numeric: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r} is not a finite number: {text!r}")
    return value


def _read_csv(path: Path, label: str) -> tuple[list[str], list[list[float]], list[int]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise ValueError(f"{path}: empty file (no header row)")
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: duplicate column names in header {header}")
        if label not in header:
            raise ValueError(f"{path}: label column {label!r} missing; columns are {header}")
        label_at = header.index(label)
        feature_names = [name for name in header if name != label]
        rows: list[list[float]] = []
        labels: list[int] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            where = f"{path}:{reader.line_num}"
            if len(cells) != len(header):
                raise ValueError(f"{where}: expected {len(header)} values, got {len(cells)}")
            value = _parse_number(cells[label_at], where, label)
            if value not in (0.0, 1.0):
                raise ValueError(
                    f"{where}: label {label!r} must be 0 or 1, got {cells[label_at]!r}"
                )
            labels.append(int(value))
            rows.append(
                [
                    _parse_number(cell, where, name)
                    for name, cell in _features_of(header, cells, label)
                ]
            )
    return feature_names, rows, labels


def _features_of(header: list[str], cells: list[str], label: str) -> list[tuple[str, str]]:
    return [(name, cells[i].strip()) for i, name in enumerate(header) if name != label]


def load_dataset(path: str | Path, label: str = DEFAULT_LABEL) -> Dataset:
    """Read one CSV or all CSVs in a directory. Files must share the same columns (any order)."""
    feature_names: list[str] = []
    rows: list[list[float]] = []
    labels: list[int] = []
    for file in csv_files(path):
        names, file_rows, file_labels = _read_csv(file, label)
        if not feature_names:
            feature_names = names
        elif set(names) != set(feature_names):
            raise ValueError(
                f"{file}: columns {names} differ from the first file's {feature_names}"
            )
        order = [names.index(name) for name in feature_names]
        rows.extend([row[i] for i in order] for row in file_rows)
        labels.extend(file_labels)
    if not rows:
        raise ValueError(f"no data rows in {path}")
    if not feature_names:
        raise ValueError(f"no feature columns in {path} (only the label {label!r})")
    return Dataset(
        features=np.asarray(rows, dtype=np.float64),
        labels=np.asarray(labels, dtype=np.int64),
        feature_names=feature_names,
        label=label,
    )


def split_indices(labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified (train_rows, test_rows); train.py and evaluate.py share it."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    classes = set(np.unique(labels).tolist())
    if classes != {0, 1}:
        raise ValueError(f"both classes 0 and 1 are required in the data, found {sorted(classes)}")
    train_rows, test_rows = train_test_split(
        np.arange(len(labels)), test_size=test_size, random_state=seed, stratify=labels
    )
    return np.asarray(train_rows), np.asarray(test_rows)


def build_model(
    algorithm: str,
    n_estimators: int = 100,
    max_depth: int | None = None,
    learning_rate: float = 0.1,
    c: float = 1.0,
    seed: int = DEFAULT_SEED,
) -> Any:
    """A fresh estimator. max_depth None means the algorithm's own default (3 for boosting)."""
    if algorithm == "random_forest":
        # n_jobs=1: training jobs are small and twin jobs share the host's cores.
        return RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, n_jobs=1, random_state=seed
        )
    if algorithm == "gradient_boosting":
        return GradientBoostingClassifier(
            n_estimators=n_estimators,
            max_depth=3 if max_depth is None else max_depth,
            learning_rate=learning_rate,
            random_state=seed,
        )
    if algorithm == "logistic_regression":
        # Features span four orders of magnitude; without scaling lbfgs converges badly.
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=c, max_iter=1000, random_state=seed)),
            ]
        )
    raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")


def positive_probability(estimator: Any, features: np.ndarray) -> np.ndarray:
    """P(label == 1) per row, whatever order the estimator keeps its classes in."""
    classes = list(estimator.classes_)
    return estimator.predict_proba(features)[:, classes.index(POSITIVE_CLASS)]


def compute_metrics(estimator: Any, features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, precision, recall, f1, roc_auc with class 1 (malignant) as positive."""
    if len(set(np.asarray(labels).tolist())) < 2:
        raise ValueError("metrics need both classes in the labels (roc_auc is undefined otherwise)")
    predicted = estimator.predict(features)
    kwargs = {"pos_label": POSITIVE_CLASS, "zero_division": 0}
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, **kwargs)),
        "recall": float(recall_score(labels, predicted, **kwargs)),
        "f1": float(f1_score(labels, predicted, **kwargs)),
        "roc_auc": float(roc_auc_score(labels, positive_probability(estimator, features))),
    }


def safe_extract(archive: str | Path, destination: str | Path) -> None:
    """Extract a model.tar.gz, refusing members that could escape `destination`.

    tarfile's own `filter="data"` is missing from the container's older Python, so the checks
    are done here and the filter is added on top where it exists.
    """
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            parts = PurePosixPath(member.name).parts
            if member.name.startswith(("/", "\\")) or PurePosixPath(member.name).is_absolute():
                raise ValueError(f"{archive}: refusing absolute path member {member.name!r}")
            if ".." in parts:
                raise ValueError(f"{archive}: refusing member with '..' {member.name!r}")
            if not (member.isfile() or member.isdir()):
                raise ValueError(f"{archive}: refusing link or special member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, members=members, filter="data")
        else:  # pragma: no cover - older Pythons, members already checked above
            tar.extractall(destination, members=members)


def _load_from_dir(directory: Path) -> LoadedModel:
    found = sorted(directory.rglob(MODEL_FILENAME))
    if not found:
        raise ValueError(f"no {MODEL_FILENAME} in {directory}")
    model_dir = found[0].parent
    metadata_path = model_dir / METADATA_FILENAME
    if not metadata_path.is_file():
        raise ValueError(f"no {METADATA_FILENAME} next to {found[0]}")
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    return LoadedModel(estimator=joblib.load(found[0]), metadata=metadata)


def load_model(path: str | Path) -> LoadedModel:
    """Load from a model directory, a directory holding model.tar.gz, or the archive itself."""
    path = Path(path)
    archive = path if path.is_file() else path / ARCHIVE_FILENAME
    if path.is_dir() and (path / MODEL_FILENAME).is_file():
        return _load_from_dir(path)
    if not archive.is_file():
        raise ValueError(f"no {MODEL_FILENAME} or {ARCHIVE_FILENAME} at {path}")
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        safe_extract(archive, scratch)
        return _load_from_dir(Path(scratch))  # joblib reads fully into memory; scratch can go
