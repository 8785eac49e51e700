"""SelectCandidate handler: `{"run": $.start.Payload.run, "results": $.candidates}`."""

import json
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

RUN = {
    "run_id": "run-a",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:train:run-a",
    "dataset": {
        "bucket": "mlops-data",
        "key": "datasets/bc.csv",
        "version_id": "v1",
        "etag": "e",
        "size": 120384,
        "rows": 569,
        "features": 30,
        "label": "malignant",
    },
    "candidates": [],
    "champion": None,
}


def evaluated(stack: Any, name: str, f1: float, champion_f1: float | None) -> dict[str, Any]:
    """A CandidateEvaluated Map result whose report sits in the artifacts bucket."""
    key = f"runs/run-a/evaluation/{name}/evaluation.json"
    report = {
        "primary_metric": "f1",
        "candidate": {"metrics": {"f1": f1, "accuracy": 0.9}},
        "champion": None if champion_f1 is None else {"metrics": {"f1": champion_f1}},
    }
    stack.put(stack.artifacts_bucket, key, json.dumps(report).encode())
    return {
        "status": "EVALUATED",
        "candidate": {"name": name, "algorithm": "random_forest"},
        "training_job_name": f"mlops-x-{name}-train",
        "model_data_url": f"s3://{stack.artifacts_bucket}/runs/run-a/models/{name}.tar.gz",
        "report_uri": f"s3://{stack.artifacts_bucket}/{key}",
    }


def test_selection_carries_the_gate_the_choice_state_reads(
    load_handler: Any, stack: Any, lambda_context: Any, asl_reads: Any
) -> None:
    handler = load_handler("select_candidate")
    results = [
        evaluated(stack, "rf", 0.95, 0.94),
        evaluated(stack, "gb", 0.97, 0.94),
        {
            "status": "FAILED",
            "candidate": {"name": "logreg", "algorithm": "logistic_regression"},
            "error": {"Error": "States.TaskFailed", "Cause": "boom"},
        },
    ]
    output = handler.lambda_handler({"run": RUN, "results": results}, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert output["best"]["candidate"]["name"] == "gb"
    assert output["gate"]["metric"] == "f1"
    assert output["gate"]["score"] == 0.97
    assert (output["gate"]["floor"], output["gate"]["margin"]) == (0.9, 0.005)
    assert output["gate"]["to_beat"] == pytest.approx(0.945)
    assert [f["candidate"]["name"] for f in output["failed"]] == ["logreg"]
    asl_reads(output, "training_pipeline", "$.selection.Payload.")


def test_all_candidates_failed_raises_training_failed_by_class_name(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("select_candidate")
    results = [
        {
            "status": "FAILED",
            "candidate": {"name": "rf", "algorithm": "random_forest"},
            "error": {"Error": "States.TaskFailed", "Cause": "AlgorithmError"},
        }
    ]
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler({"run": RUN, "results": results}, lambda_context)
    assert type(excinfo.value).__name__ == "TrainingFailed"
    assert "rf: States.TaskFailed: AlgorithmError" in str(excinfo.value)


def test_missing_report_raises_evaluation_invalid_by_class_name(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("select_candidate")
    result = evaluated(stack, "rf", 0.95, None)
    result["report_uri"] = f"s3://{stack.artifacts_bucket}/nowhere/evaluation.json"
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler({"run": RUN, "results": [result]}, lambda_context)
    assert type(excinfo.value).__name__ == "EvaluationInvalid"
