"""SageMaker Processing script: score the candidate and any champion on the held-out split.

Both models are scored on the SAME rows: the split train.py held out, recomputed from the data
with the same stratified split, test size and seed. Writes <output-dir>/evaluation.json (our
report) and <output-dir>/model_quality.json (SageMaker model quality statistics format, as the
model registry's ModelMetrics.ModelQuality.Statistics expects). Exit status 1 with a message
on stderr when the candidate model or the data is missing or unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import (
    DEFAULT_LABEL,
    DEFAULT_SEED,
    DEFAULT_TEST_SIZE,
    METRIC_NAMES,
    Dataset,
    LoadedModel,
    compute_metrics,
    load_dataset,
    load_model,
    split_indices,
)

PROCESSING = Path("/opt/ml/processing")
# Our metric name -> SageMaker model quality name (binary_classification_metrics keys).
MODEL_QUALITY_NAMES = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
    "roc_auc": "auc",
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
    add("--primary-metric", default="f1", choices=METRIC_NAMES)
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


def split_settings(args: argparse.Namespace, candidate: LoadedModel) -> tuple[float, int]:
    trained_with = candidate.metadata.get("hyperparameters", {})
    test_size = args.test_size
    if test_size is None:
        test_size = float(trained_with.get("test_size", DEFAULT_TEST_SIZE))
    seed = args.seed if args.seed is not None else int(trained_with.get("seed", DEFAULT_SEED))
    return test_size, seed


def score(model: LoadedModel, dataset: Dataset, test_rows: Any) -> dict[str, float]:
    features = dataset.columns(model.feature_names)[test_rows]
    return compute_metrics(model.estimator, features, dataset.labels[test_rows])


def model_quality(metrics: dict[str, float]) -> dict[str, Any]:
    # SageMaker writes "NaN" when it did not bootstrap a standard deviation.
    return {
        "binary_classification_metrics": {
            MODEL_QUALITY_NAMES[name]: {"value": metrics[name], "standard_deviation": "NaN"}
            for name in METRIC_NAMES
        }
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    candidate = load_candidate(args.candidate_dir)
    champion = load_champion(args.champion_dir)
    try:
        dataset = load_dataset(args.data_dir, label=args.label)
    except ValueError as exc:
        raise EvaluationError(f"evaluation data unusable: {exc}") from exc
    test_size, seed = split_settings(args, candidate)
    _, test_rows = split_indices(dataset.labels, test_size, seed)
    candidate_metrics = score(candidate, dataset, test_rows)
    report = {
        "primary_metric": args.primary_metric,
        "split": {
            "test_size": test_size,
            "seed": seed,
            "rows_total": int(len(dataset.labels)),
            "rows_test": int(len(test_rows)),
        },
        "candidate": {"metrics": candidate_metrics},
        "champion": None if champion is None else {"metrics": score(champion, dataset, test_rows)},
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.output_dir / "evaluation.json", report)
    write_json(args.output_dir / "model_quality.json", model_quality(candidate_metrics))
    return report


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


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
        f"champion {primary}={champion_text} on {report['split']['rows_test']} held-out rows",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
