"""SelectCandidate handler: `{"run": $.start.Payload.run, "results": $.candidates}`.

Payload: events/functions/select_candidate.json (rf and gb evaluated, linear failed), the run
renamed run-a and each evaluation report written to the stack's artifacts bucket.
"""

import json
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def with_reports(
    stack: Any, sample: Any, scores: dict[str, tuple[float, float | None]]
) -> dict[str, Any]:
    """The sample payload; each evaluated candidate's report (f1 of the candidate, of the
    champion) is in the artifacts bucket, under the key the sample names."""
    payload = sample("select_candidate", {"run.run_id": "run-a"})
    for result in payload["results"]:
        if result["status"] != "EVALUATED":
            continue
        key = result["report_uri"].removeprefix("s3://").split("/", 1)[1]
        result["report_uri"] = f"s3://{stack.artifacts_bucket}/{key}"
        f1, champion_f1 = scores[result["candidate"]["name"]]
        report = {
            "primary_metric": "f1",
            "candidate": {"metrics": {"f1": f1, "accuracy": 0.9}},
            "champion": None if champion_f1 is None else {"metrics": {"f1": champion_f1}},
        }
        stack.put(stack.artifacts_bucket, key, json.dumps(report).encode())
    return payload


def test_selection_carries_the_gate_the_choice_state_reads(
    load_handler: Any,
    stack: Any,
    sample: Any,
    lambda_context: Any,
    asl_reads: Any,
    printed: Any,
) -> None:
    handler = load_handler("select_candidate")
    payload = with_reports(stack, sample, {"rf": (0.95, 0.94), "gb": (0.97, 0.94)})
    output = handler.lambda_handler(payload, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert output["best"]["candidate"]["name"] == "gb"
    assert output["gate"]["metric"] == "f1"
    assert output["gate"]["score"] == 0.97
    assert output["gate"]["direction"] == "higher"
    assert (output["gate"]["threshold"], output["gate"]["margin"]) == (0.9, 0.005)
    assert output["gate"]["to_beat"] == pytest.approx(0.945)
    assert [f["candidate"]["name"] for f in output["failed"]] == ["linear"]
    asl_reads(output, "training_pipeline", "$.selection.Payload.")
    out = printed()
    assert [m["BestCandidateScore"] for m in out.metrics] == [[0.97]]
    assert out.correlation_ids() == {"run-a"}


def test_all_candidates_failed_raises_training_failed_by_class_name(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    # Only the sample's linear, whose Cause is the failed job's DescribeTrainingJob document
    handler = load_handler("select_candidate")
    payload = sample("select_candidate")
    payload["results"] = [r for r in payload["results"] if r["status"] == "FAILED"]
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    assert type(excinfo.value).__name__ == "TrainingFailed"
    assert "linear: States.TaskFailed: AlgorithmError: ExecuteUserScriptError" in str(excinfo.value)


def test_missing_report_raises_evaluation_invalid_by_class_name(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("select_candidate")
    payload = with_reports(stack, sample, {"rf": (0.95, None), "gb": (0.97, None)})
    payload["results"][0]["report_uri"] = f"s3://{stack.artifacts_bucket}/nowhere/evaluation.json"
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    assert type(excinfo.value).__name__ == "EvaluationInvalid"
