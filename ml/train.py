"""SageMaker training script (script mode) for the breast cancer classifier.

The container runs `python train.py --algorithm random_forest --n-estimators 100 ...`: each
hyperparameter becomes one CLI argument (a one-letter key such as `c` becomes `-c`). Paths come
from the SM_* environment variables with the standard /opt/ml defaults. Outputs:
SM_MODEL_DIR/model.joblib, SM_MODEL_DIR/metadata.json, SM_OUTPUT_DATA_DIR/metrics.json and
`metric <name>=<value>` lines on stdout. On error the message goes to <SM_OUTPUT_DIR>/failure,
which SageMaker reports as the job's FailureReason, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import joblib
import sklearn
from common import (
    ALGORITHMS,
    DEFAULT_LABEL,
    DEFAULT_SEED,
    DEFAULT_TEST_SIZE,
    METADATA_FILENAME,
    MODEL_FILENAME,
    POSITIVE_CLASS,
    build_model,
    compute_metrics,
    load_dataset,
    split_indices,
)

NO_VALUE = ("", "none", "null")


class ArgumentError(ValueError):
    """argparse problems become ordinary errors, so they reach the failure file too."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and sys.exit(2)
        raise ArgumentError(f"invalid hyperparameters: {message}")


def _decoded(value: str) -> Any:
    """Undo JSON encoding if a caller passed the SDK-encoded value ('"random_forest"')."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def text(value: str) -> str:
    return str(_decoded(value))


def optional_int(value: str) -> int | None:
    if str(value).strip().lower() in NO_VALUE:
        return None
    decoded = _decoded(value)
    return None if decoded is None else int(decoded)


def integer(value: str) -> int:
    return int(_decoded(value))


def number(value: str) -> float:
    return float(_decoded(value))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    # allow_abbrev=False: a misspelt "--n-estimator" must fail, not silently match.
    parser = _Parser(description="Train the breast cancer classifier.", allow_abbrev=False)
    add = parser.add_argument
    add("--algorithm", type=text, default="random_forest", choices=ALGORITHMS)
    add("--n-estimators", "--n_estimators", dest="n_estimators", type=integer, default=100)
    add("--max-depth", "--max_depth", dest="max_depth", type=optional_int, default=None)
    add("--learning-rate", "--learning_rate", dest="learning_rate", type=number, default=0.1)
    add("--c", "-c", "--C", "-C", dest="c", type=number, default=1.0)
    add("--label", type=text, default=DEFAULT_LABEL)
    add("--test-size", "--test_size", dest="test_size", type=number, default=DEFAULT_TEST_SIZE)
    add("--seed", type=integer, default=DEFAULT_SEED)
    model_dir = Path(env.get("SM_MODEL_DIR", "/opt/ml/model"))
    train_dir = Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    output_data_dir = Path(env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    add("--model-dir", "--model_dir", dest="model_dir", type=Path, default=model_dir)
    add("--train", type=Path, default=train_dir)
    add(
        "--output-data-dir",
        "--output_data_dir",
        dest="output_data_dir",
        type=Path,
        default=output_data_dir,
    )
    args, unknown = parser.parse_known_args(argv)
    # SageMaker's own keys (sagemaker_program, ...) are tolerated if a runner passes them along;
    # anything else is a typo in a hyperparameter name and must not be silently ignored.
    unexpected = [a for a in unknown if a.startswith("-") and not a.startswith("--sagemaker_")]
    if unexpected:
        parser.error(f"unrecognized arguments: {' '.join(unexpected)}")
    return args


def hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    names = ("algorithm", "n_estimators", "max_depth", "learning_rate", "c", "test_size", "seed")
    return {name: getattr(args, name) for name in names}


def print_metrics(prefix: str, metrics: dict[str, float]) -> None:
    # One line per metric in the shape SageMaker MetricDefinitions regexes match.
    for name, value in metrics.items():
        print(f"metric {prefix}{name}={value:.6f}", flush=True)


def train(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(args.train, label=args.label)
    train_rows, test_rows = split_indices(dataset.labels, args.test_size, args.seed)
    estimator = build_model(
        args.algorithm,
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        c=args.c,
        seed=args.seed,
    )
    x_train, y_train = dataset.features[train_rows], dataset.labels[train_rows]
    estimator.fit(x_train, y_train)  # the TRAIN split only; evaluate.py scores the rest
    train_metrics = compute_metrics(estimator, x_train, y_train)
    # Reported for visibility only; the promotion decision uses evaluate.py on the same split.
    validation_metrics = compute_metrics(
        estimator, dataset.features[test_rows], dataset.labels[test_rows]
    )
    metadata = {
        "feature_names": dataset.feature_names,
        "label": dataset.label,
        "classes": [int(c) for c in estimator.classes_],
        "positive_class": POSITIVE_CLASS,
        "algorithm": args.algorithm,
        "hyperparameters": hyperparameters(args),
        "rows_total": int(len(dataset.labels)),
        "rows_train": int(len(train_rows)),
        "train_metrics": train_metrics,
        "validation_metrics": validation_metrics,
        "sklearn_version": sklearn.__version__,
    }
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, args.model_dir / MODEL_FILENAME)
    write_json(args.model_dir / METADATA_FILENAME, metadata)
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        args.output_data_dir / "metrics.json",
        {"train": train_metrics, "validation": validation_metrics},
    )
    print_metrics("train_", train_metrics)
    print_metrics("validation_", validation_metrics)
    return metadata


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def write_failure(message: str) -> None:
    output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "failure").write_text(message, encoding="utf-8")
    except OSError as exc:  # the original error matters more than this one
        print(f"could not write failure file in {output_dir}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        metadata = train(parse_args(argv))
    except Exception as exc:
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}"
        write_failure(message)
        print(f"training failed: {message}", file=sys.stderr)
        return 1
    print(f"trained {metadata['algorithm']} on {metadata['rows_train']} rows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
