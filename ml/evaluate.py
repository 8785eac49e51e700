"""SageMaker Processing script: score the candidate and any champion on the held-out split.

Both models are scored on the SAME rows: the split train.py held out, recomputed from the data
with the same split, test size and seed, and with the candidate's label encoding (the champion's
answers are translated into it: the class it names, not its internal index). A champion trained
for another problem type, or with another positive label, is not comparable: it is reported
under `champion_skipped` and the gate judges the candidate as if there were no champion.

Writes <output-dir>/evaluation.json (our report), <output-dir>/model_quality.json (the
SageMaker model quality statistics format for the problem type, as the model registry's
ModelMetrics.ModelQuality.Statistics expects; key names as in "Model quality metrics" of the
SageMaker Model Monitor documentation) and <output-dir>/feature_schema.json (the candidate's
features: names, order, types) and, when the candidate has one, <output-dir>/baseline.json (its
drift baseline, baseline.py: the registered version references it). Exit status 1 with a
message on stderr when the candidate model or the data is missing or unusable.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    BASELINE_FILENAME,
    DEFAULT_LABEL,
    DEFAULT_SEED,
    DEFAULT_TEST_SIZE,
    Dataset,
    LoadedModel,
    feature_schema,
    load_dataset,
    load_model,
    predict,
    split_indices,
    write_json,
)
from problems import (
    BINARY,
    METRICS,
    MULTICLASS,
    REGRESSION,
    LabelEncoding,
    check_metric,
    compute_metrics,
    direction,
)
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

PROCESSING = Path("/opt/ml/processing")
QUALITY_KEY = {
    BINARY: "binary_classification_metrics",
    MULTICLASS: "multiclass_classification_metrics",
    REGRESSION: "regression_metrics",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    add = parser.add_argument
    add("--data-dir", type=Path, default=PROCESSING / "input" / "data")
    add("--candidate-dir", type=Path, default=PROCESSING / "model" / "candidate")
    add("--champion-dir", type=Path, default=PROCESSING / "model" / "champion")
    add("--output-dir", type=Path, default=PROCESSING / "evaluation")
    add("--label", default=DEFAULT_LABEL)
    # Default: whatever the candidate was trained with (metadata.json), so the split matches.
    add(
        "--test-size",
        type=float,
        default=None,
        help=f"default: candidate's, else {DEFAULT_TEST_SIZE}",
    )
    add("--seed", type=int, default=None, help=f"default: candidate's, else {DEFAULT_SEED}")
    add("--primary-metric", default="f1", choices=sorted(METRICS))
    # The stack's problem: checked against what the candidate was trained for.
    add("--problem-type", default=None)
    add("--positive-label", default=None)
    add("--max-classes", type=int, default=None, help="accepted for symmetry with train.py")
    return parser.parse_args(argv)


class EvaluationError(Exception):
    """A problem the caller can fix (missing model or data); reported without a traceback."""


def load_candidate(directory: Path) -> LoadedModel:
    if not directory.is_dir() or not any(directory.iterdir()):
        raise EvaluationError(f"candidate model missing: {directory} has no model.tar.gz")
    try:
        return load_model(directory)
    except ValueError as exc:
        raise EvaluationError(f"candidate model unusable: {exc}") from exc


def load_champion(directory: Path) -> LoadedModel | None:
    """None when there is no champion yet (directory absent or empty)."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return None
    try:
        return load_model(directory)
    except ValueError as exc:
        # A broken champion must not make any candidate win by default.
        raise EvaluationError(f"champion model unusable: {exc}") from exc


def check_candidate(args: argparse.Namespace, encoding: LabelEncoding) -> None:
    if args.problem_type and args.problem_type != encoding.problem_type:
        raise EvaluationError(
            f"the candidate was trained for {encoding.problem_type}, the stack's problem type is "
            f"{args.problem_type}"
        )
    stack_positive = args.positive_label
    if encoding.problem_type == BINARY and stack_positive is not None:
        expected = LabelEncoding(BINARY, positive_label=stack_positive)
        if encoding.comparable_with(expected) is not None:
            raise EvaluationError(
                f"the candidate's positive label is {encoding.positive_label!r}, the stack's is "
                f"{stack_positive!r}"
            )
    try:
        check_metric(encoding.problem_type, args.primary_metric)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from exc


def split_settings(args: argparse.Namespace, candidate: LoadedModel) -> tuple:
    trained_with = candidate.metadata.get("hyperparameters", {})
    test_size = args.test_size
    if test_size is None:
        test_size = float(trained_with.get("test_size", DEFAULT_TEST_SIZE))
    seed = args.seed if args.seed is not None else int(trained_with.get("seed", DEFAULT_SEED))
    return test_size, seed


def answers(model: LoadedModel, dataset: Dataset, rows: Any, encoding: LabelEncoding) -> Any:
    """The model's predictions on `rows`, in `encoding` (the candidate's)."""
    own = model.encoding
    found = predict(model.estimator, own.problem_type, dataset.columns(model.feature_names)[rows],
                    len(own.classes))  # fmt: skip
    if own.problem_type != MULTICLASS:
        return found
    index = {name: i for i, name in enumerate(encoding.classes)}
    translated = [index.get(own.classes[int(t)], -1) for t in found.targets]
    return type(found)(np.asarray(translated, dtype=np.int64), None, None)


def model_quality(problem_type: str, truth: Any, found: Any) -> dict[str, Any]:
    """SageMaker's model quality statistics for the problem type (standard deviations "NaN":
    not bootstrapped, as SageMaker writes them below 200 samples)."""
    p = found.targets
    if problem_type == REGRESSION:
        mse = float(mean_squared_error(truth, p))
        values = {"mae": float(mean_absolute_error(truth, p)), "mse": mse,
                  "rmse": math.sqrt(mse), "r2": float(r2_score(truth, p))}  # fmt: skip
    elif problem_type == MULTICLASS:
        kw = {"average": "weighted", "zero_division": 0}
        values = {"accuracy": float(accuracy_score(truth, p)),
                  "weighted_recall": float(recall_score(truth, p, **kw)),
                  "weighted_precision": float(precision_score(truth, p, **kw)),
                  "weighted_f1": float(f1_score(truth, p, **kw))}  # fmt: skip
    else:
        kw = {"pos_label": 1, "zero_division": 0}
        values = {"recall": float(recall_score(truth, p, **kw)),
                  "precision": float(precision_score(truth, p, **kw)),
                  "accuracy": float(accuracy_score(truth, p)),
                  "auc": float(roc_auc_score(truth, found.positive_probability)),
                  "f1": float(f1_score(truth, p, **kw))}  # fmt: skip
    return {
        QUALITY_KEY[problem_type]: {
            name: {"value": value, "standard_deviation": "NaN"} for name, value in values.items()
        }
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    candidate = load_candidate(args.candidate_dir)
    encoding = candidate.encoding
    check_candidate(args, encoding)
    champion = load_champion(args.champion_dir)
    try:
        dataset = load_dataset(args.data_dir, label=args.label)
        truth = encoding.encode(dataset.label_values)
    except ValueError as exc:
        raise EvaluationError(f"evaluation data unusable: {exc}") from exc
    test_size, seed = split_settings(args, candidate)
    _, rows = split_indices(truth, test_size, seed, encoding.problem_type)
    problem = encoding.problem_type

    def score(model: LoadedModel) -> dict[str, float]:
        found = answers(model, dataset, rows, encoding)
        return compute_metrics(problem, truth[rows], found.targets, found.positive_probability)

    skipped = None if champion is None else encoding.comparable_with(champion.encoding)
    report = {
        "problem_type": problem,
        "primary_metric": args.primary_metric,
        "direction": direction(args.primary_metric),
        "split": {
            "test_size": test_size,
            "seed": seed,
            "rows_total": int(len(truth)),
            "rows_test": int(len(rows)),
        },  # fmt: skip
        "candidate": {"metrics": score(candidate)},
        "champion": None if champion is None or skipped else {"metrics": score(champion)},
        "champion_skipped": None if skipped is None else f"champion not comparable: {skipped}",
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.output_dir / "evaluation.json", report)
    found = answers(candidate, dataset, rows, encoding)
    write_json(args.output_dir / "model_quality.json", model_quality(problem, truth[rows], found))
    write_json(
        args.output_dir / "feature_schema.json",
        feature_schema(candidate.feature_names, candidate.metadata.get("label", args.label)),
    )
    if candidate.baseline is not None:  # registration references it for drift checks
        write_json(args.output_dir / BASELINE_FILENAME, candidate.baseline)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = evaluate(args)
    except (EvaluationError, ValueError) as exc:
        print(f"evaluation failed: {exc}", file=sys.stderr)
        return 1
    primary = args.primary_metric
    champion = report["champion"]
    champion_text = "none" if champion is None else f"{champion['metrics'][primary]:.6f}"
    print(
        f"candidate {primary}={report['candidate']['metrics'][primary]:.6f} "
        f"champion {primary}={champion_text} on {report['split']['rows_test']} held-out rows"
        + (f" ({report['champion_skipped']})" if report["champion_skipped"] else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
