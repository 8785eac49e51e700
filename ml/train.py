"""SageMaker training script (script mode): one candidate of any tabular supervised problem.

The container runs `python train.py --algorithm random_forest --n-estimators 100 ...`: each
hyperparameter becomes one CLI argument (a one-letter key such as `c` becomes `-c`). Framework
arguments (below) say what to learn; every other `--name value` pair is a hyperparameter of the
algorithm, checked against what estimators.py declares for it. Paths come from the SM_*
environment variables with the standard /opt/ml defaults.

Outputs: SM_MODEL_DIR/model.joblib, SM_MODEL_DIR/metadata.json (problem type, label encoding,
feature order, hyperparameters), SM_MODEL_DIR/feature_schema.json (feature names, order and
types), SM_MODEL_DIR/baseline.json (the drift baseline of the train split, baseline.py),
SM_OUTPUT_DATA_DIR/metrics.json and `metric <name>=<value>` lines on stdout. Checkpoints go to
--checkpoint-dir (CheckpointConfig.LocalPath, /opt/ml/checkpoints) when it exists, and a restarted
job resumes from them (checkpoints.py says which algorithms resume). On error the
message goes to <SM_OUTPUT_DIR>/failure, which SageMaker reports as the job's FailureReason, and
the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import checkpoints
import joblib
import sklearn
from baseline import build_baseline
from common import (
    BASELINE_FILENAME,
    DEFAULT_LABEL,
    DEFAULT_SEED,
    DEFAULT_TEST_SIZE,
    METADATA_FILENAME,
    MODEL_FILENAME,
    SCHEMA_FILENAME,
    feature_schema,
    load_dataset,
    predict,
    split_indices,
    write_json,
)
from estimators import build
from problems import (
    BINARY,
    DEFAULT_MAX_CLASSES,
    PROBLEM_TYPES,
    REGRESSION,
    LabelEncoding,
    compute_metrics,
)


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


def integer(value: str) -> int:
    return int(_decoded(value))


def number(value: str) -> float:
    return float(_decoded(value))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    # allow_abbrev=False: a misspelt "--test-siz" must not silently match "--test-size".
    parser = _Parser(description="Train one candidate.", allow_abbrev=False)
    add = parser.add_argument
    add("--algorithm", type=text, default="random_forest")
    add("--label", type=text, default=DEFAULT_LABEL)
    add("--problem-type", "--problem_type", dest="problem_type", type=text, default=BINARY,
        choices=PROBLEM_TYPES)  # fmt: skip
    add("--positive-label", "--positive_label", dest="positive_label", type=text, default="1")
    add("--max-classes", "--max_classes", dest="max_classes", type=integer,
        default=DEFAULT_MAX_CLASSES)  # fmt: skip
    add("--test-size", "--test_size", dest="test_size", type=number, default=DEFAULT_TEST_SIZE)
    add("--seed", type=integer, default=DEFAULT_SEED)
    add("--model-dir", "--model_dir", dest="model_dir", type=Path,
        default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))  # fmt: skip
    add("--train", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    add("--output-data-dir", "--output_data_dir", dest="output_data_dir", type=Path,
        default=Path(env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")))  # fmt: skip
    # CheckpointConfig.LocalPath; checkpoints are written only when the platform made it.
    add("--checkpoint-dir", "--checkpoint_dir", dest="checkpoint_dir", type=Path,
        default=checkpoints.default_directory())  # fmt: skip
    args, rest = parser.parse_known_args(argv)
    args.hyperparameters = algorithm_hyperparameters(rest)
    return args


def algorithm_hyperparameters(tokens: list[str]) -> dict[str, str]:
    """`--n-estimators 30 -c 0.5 --max_depth ""` -> {"n_estimators": "30", "c": "0.5", ...}.
    SageMaker's own keys (sagemaker_program, ...) are left out; a key without a value is an
    error, as is anything that is not a `--key value` pair."""
    found: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        key = tokens[i]
        if not key.startswith("-") or key.strip("-") == "":
            raise ArgumentError(f"invalid hyperparameters: unexpected value {key!r}")
        if i + 1 >= len(tokens):
            raise ArgumentError(f"invalid hyperparameters: {key} has no value")
        name = key.lstrip("-").replace("-", "_")
        if not name.startswith("sagemaker_"):
            found[name] = tokens[i + 1]
        i += 2
    return found


def print_metrics(prefix: str, metrics: dict[str, float]) -> None:
    # One line per metric in the shape SageMaker MetricDefinitions regexes match.
    for name, value in metrics.items():
        print(f"metric {prefix}{name}={value:.6f}", flush=True)


def train(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(args.train, label=args.label)
    encoding = LabelEncoding.fit(
        args.problem_type, dataset.label_values, args.positive_label, args.max_classes
    )
    targets = encoding.encode(dataset.label_values)
    train_rows, test_rows = split_indices(targets, args.test_size, args.seed, args.problem_type)
    estimator, values = build(args.algorithm, args.problem_type, args.hyperparameters, args.seed)
    x_train, y_train = dataset.features[train_rows], targets[train_rows]
    # The TRAIN split only; evaluate.py scores the rest. In steps, resuming from a checkpoint
    # of this same training when a spot job restarts (checkpoints.py).
    fitted = checkpoints.fit(
        estimator,
        x_train,
        y_train,
        args.checkpoint_dir if args.checkpoint_dir.is_dir() else None,
        settings={"algorithm": args.algorithm, "values": values, "seed": args.seed,
                  "problem_type": args.problem_type},
    )  # fmt: skip
    estimator = fitted["estimator"]

    def score(rows: Any) -> dict[str, float]:
        found = predict(estimator, args.problem_type, dataset.features[rows], len(encoding.classes))
        return compute_metrics(
            args.problem_type, targets[rows], found.targets, found.positive_probability
        )

    train_metrics = score(train_rows)
    # Reported for visibility only; the promotion decision uses evaluate.py on the same split.
    validation_metrics = score(test_rows)
    metadata = {
        "problem_type": args.problem_type,
        "feature_names": dataset.feature_names,
        "label": dataset.label,
        "label_encoding": encoding.to_dict(),
        "algorithm": args.algorithm,
        "hyperparameters": {
            "algorithm": args.algorithm,
            **values,
            "test_size": args.test_size,
            "seed": args.seed,
        },  # fmt: skip
        "rows_total": int(len(targets)),
        "rows_train": int(len(train_rows)),
        "train_metrics": train_metrics,
        "validation_metrics": validation_metrics,
        "sklearn_version": sklearn.__version__,
        # estimators loaded from a checkpoint (0: trained from scratch), checkpoints written
        "checkpoint": {"resumed_from": fitted["resumed_from"], "written": fitted["checkpoints"]},
    }
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, args.model_dir / MODEL_FILENAME)
    write_json(args.model_dir / METADATA_FILENAME, metadata)
    write_json(args.model_dir / SCHEMA_FILENAME, feature_schema(dataset.feature_names, args.label))
    write_json(
        args.model_dir / BASELINE_FILENAME,
        drift_baseline(estimator, x_train, dataset.feature_names, args, encoding),
    )
    args.output_data_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        args.output_data_dir / "metrics.json",
        {"train": train_metrics, "validation": validation_metrics},
    )
    print_metrics("train_", train_metrics)
    print_metrics("validation_", validation_metrics)
    return metadata


def drift_baseline(
    estimator: Any, x_train: Any, names: list[str], args: argparse.Namespace, encoding: Any
) -> Any:
    """The train split's feature summaries and the model's answers on it, as the endpoint
    gives them (the label, or the value for regression), for drift.py to compare against."""
    found = predict(estimator, args.problem_type, x_train, len(encoding.classes))
    answers = [encoding.decode(t) for t in found.targets]
    return build_baseline(x_train, names, answers, args.problem_type == REGRESSION, args.seed)


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
