"""Helpers shared by train.py, evaluate.py and inference.py: the data, the split, the model.

This file ships inside sourcedir.tar.gz and runs in the SageMaker scikit-learn container
(scikit-learn 1.2, an older Python), so it sticks to APIs available there: no `zip(strict=)`,
no match statements, and annotations stay strings (`from __future__ import annotations`).
Sibling modules are imported by their top-level names, as the container's working directory
and the serving stack's module directory put ml/ on sys.path.
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
from problems import BINARY, REGRESSION, LabelEncoding
from sklearn.model_selection import train_test_split

DEFAULT_LABEL = "malignant"
DEFAULT_TEST_SIZE = 0.2
DEFAULT_SEED = 42
MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "metadata.json"
SCHEMA_FILENAME = "feature_schema.json"
BASELINE_FILENAME = "baseline.json"  # the drift baseline (baseline.py)
ARCHIVE_FILENAME = "model.tar.gz"
FEATURE_TYPE = "float64"  # the dataset contract: every feature is a finite number


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # float64, shape (rows, len(feature_names))
    label_values: list[str]  # the label column's text per row (stripped), not yet encoded
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
    #: baseline.json written beside the model (drift baseline), None for older models
    baseline: dict[str, Any] | None = None

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def encoding(self) -> LabelEncoding:
        if "label_encoding" in self.metadata:
            return LabelEncoding.from_dict(self.metadata["label_encoding"])
        # Models trained before problem types existed: binary, label 1 positive.
        return LabelEncoding(BINARY, positive_label="1", negative_label="0")


def feature_schema(feature_names: list[str], label: str) -> dict[str, Any]:
    """What the model expects, in order: the file evaluation and inference check requests by,
    and the registry records for each version."""
    return {
        "features": [{"name": name, "type": FEATURE_TYPE} for name in feature_names],
        "label": label,
    }


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


def parse_number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: column {column!r} is not numeric: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r} is not a finite number: {text!r}")
    return value


def _read_csv(path: Path, label: str) -> tuple[list[str], list[list[float]], list[str]]:
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
        labels: list[str] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            where = f"{path}:{reader.line_num}"
            if len(cells) != len(header):
                raise ValueError(f"{where}: expected {len(header)} values, got {len(cells)}")
            if not cells[label_at].strip():
                raise ValueError(f"{where}: label {label!r} is empty")
            labels.append(cells[label_at].strip())
            rows.append(
                [
                    parse_number(cells[i].strip(), where, name)
                    for i, name in enumerate(header)
                    if i != label_at
                ]
            )
    return feature_names, rows, labels


def load_dataset(path: str | Path, label: str = DEFAULT_LABEL) -> Dataset:
    """Read one CSV or all CSVs in a directory. Files must share the same columns (any order)."""
    feature_names: list[str] = []
    rows: list[list[float]] = []
    labels: list[str] = []
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
        label_values=labels,
        feature_names=feature_names,
        label=label,
    )


def split_indices(
    targets: np.ndarray, test_size: float, seed: int, problem_type: str = BINARY
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train_rows, test_rows); train.py and evaluate.py share it. Classes are
    stratified, so every class is in both parts in its share of the data."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    stratify = None
    if problem_type != REGRESSION:
        values, sizes = np.unique(targets, return_counts=True)
        counts = {int(v): int(n) for v, n in zip(values, sizes)}  # noqa: B905 (py3.8)
        if problem_type == BINARY and set(counts) != {0, 1}:
            raise ValueError(f"both classes are required in the data, found {sorted(counts)} only")
        rare = sorted(c for c, n in counts.items() if n < 2)
        if rare:
            raise ValueError(f"every class needs two rows or more to be split; classes {rare}")
        stratify = targets
    train_rows, test_rows = train_test_split(
        np.arange(len(targets)), test_size=test_size, random_state=seed, stratify=stratify
    )
    return np.asarray(train_rows), np.asarray(test_rows)


@dataclass(frozen=True)
class Predictions:
    targets: np.ndarray  # in the model's encoding (0/1, class index, or value)
    positive_probability: np.ndarray | None = None  # binary: P(positive label) per row
    class_probabilities: np.ndarray | None = None  # multiclass: (rows, classes)


def predict(
    estimator: Any, problem_type: str, features: np.ndarray, classes: int = 0
) -> Predictions:
    """The estimator's answers, with probabilities arranged by encoded target, whatever order
    the estimator keeps its classes in."""
    targets = np.asarray(estimator.predict(features))
    if problem_type == REGRESSION:
        return Predictions(targets.astype(np.float64))
    proba = estimator.predict_proba(features)
    order = [int(c) for c in estimator.classes_]
    if problem_type == BINARY:
        return Predictions(targets.astype(np.int64), positive_probability=proba[:, order.index(1)])
    full = np.zeros((len(features), max(classes, max(order) + 1)))
    for column, target in enumerate(order):
        full[:, target] = proba[:, column]
    return Predictions(targets.astype(np.int64), class_probabilities=full)


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
    baseline_path = model_dir / BASELINE_FILENAME
    baseline = None
    if baseline_path.is_file():
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
    return LoadedModel(estimator=joblib.load(found[0]), metadata=metadata, baseline=baseline)


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


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
