"""select_best: reads evaluation reports from S3 (moto) and computes the champion gate."""

import json
from typing import Any

import pytest
from mlops_common.domain.selection import select_best
from mlops_common.errors import EvaluationInvalid, TrainingFailed
from mlops_common.models import Candidate, CandidateResult, DatasetRef, RunContext, Selection
from mlops_common.settings import SelectCandidateSettings

RUN = RunContext(
    run_id="run-a",
    execution_arn="arn:aws:states:us-east-1:123456789012:execution:train:run-a",
    dataset=DatasetRef(
        bucket="mlops-data",
        key="datasets/bc.csv",
        version_id="v1",
        etag="e",
        size=1,
        rows=569,
        features=30,
        label="malignant",
    ),
    candidates=[],
)


def metrics(f1: float, roc_auc: float = 0.99) -> dict[str, float]:
    return {"accuracy": 0.95, "precision": 0.95, "recall": 0.95, "f1": f1, "roc_auc": roc_auc}


def report(candidate: dict[str, float], champion: dict[str, float] | None = None) -> dict:
    return {
        "primary_metric": "f1",
        "split": {"test_size": 0.2, "seed": 42, "rows_total": 569, "rows_test": 114},
        "candidate": {"metrics": candidate},
        "champion": None if champion is None else {"metrics": champion},
    }


def evaluated(world: Any, name: str, body: dict | bytes | None) -> CandidateResult:
    """A candidate whose evaluation.json holds `body` (None: the report was never written)."""
    key = f"runs/run-a/evaluation/{name}/evaluation.json"
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        world.s3.put_object(Bucket=world.artifacts_bucket, Key=key, Body=raw)
    return CandidateResult(
        status="EVALUATED",
        candidate=Candidate(name=name, algorithm="random_forest"),
        training_job_name=f"mlops-0123456789-{name}-train",
        model_data_url=f"s3://mlops-artifacts/runs/run-a/models/{name}/output/model.tar.gz",
        report_uri=f"s3://{world.artifacts_bucket}/{key}",
    )


def failed(name: str, error: str, cause: str) -> CandidateResult:
    candidate = Candidate(name=name, algorithm="random_forest")
    return CandidateResult(
        status="FAILED", candidate=candidate, error={"Error": error, "Cause": cause}
    )


def select(world: Any, results: list[CandidateResult], **settings: Any) -> Selection:
    return select_best(RUN, results, SelectCandidateSettings(**settings), world.store())


def test_best_candidate_by_primary_metric_with_leaderboard(world: Any) -> None:
    results = [
        evaluated(world, "rf", report(metrics(0.95))),
        evaluated(world, "gb", report(metrics(0.97))),
        evaluated(world, "logreg", report(metrics(0.93))),
    ]
    selection = select(world, results)
    assert selection.best == results[1]
    assert selection.metrics == metrics(0.97)
    assert selection.leaderboard == [
        {"candidate": "gb", "f1": 0.97},
        {"candidate": "rf", "f1": 0.95},
        {"candidate": "logreg", "f1": 0.93},
    ]
    assert selection.quality_report_uri == (
        "s3://mlops-artifacts/runs/run-a/evaluation/gb/model_quality.json"
    )
    assert selection.failed == []


def test_primary_metric_setting_decides_the_winner(world: Any) -> None:
    results = [
        evaluated(world, "rf", report(metrics(0.97, roc_auc=0.98))),
        evaluated(world, "gb", report(metrics(0.95, roc_auc=0.99))),
    ]
    selection = select(world, results, primary_metric="roc_auc")
    assert selection.best.candidate.name == "gb"
    assert (selection.gate.metric, selection.gate.score) == ("roc_auc", 0.99)


def test_tie_keeps_configuration_order(world: Any) -> None:
    results = [
        evaluated(world, "rf", report(metrics(0.96))),
        evaluated(world, "gb", report(metrics(0.96))),
    ]
    assert select(world, results).best.candidate.name == "rf"
    assert select(world, list(reversed(results))).best.candidate.name == "gb"


def test_gate_with_champion_is_champion_score_plus_margin(world: Any) -> None:
    # Given the winner's report also scored the champion on the same split
    results = [evaluated(world, "rf", report(metrics(0.97), champion=metrics(0.96)))]
    # When
    selection = select(world, results, minimum_metric=0.9, improvement_margin=0.01)
    # Then
    gate = selection.gate
    assert (gate.metric, gate.direction) == ("f1", "higher")
    assert (gate.score, gate.threshold, gate.margin) == (0.97, 0.9, 0.01)
    assert gate.champion_score == 0.96
    assert gate.to_beat == pytest.approx(0.97)
    assert selection.champion_metrics == metrics(0.96)


def test_gate_without_champion_has_nothing_to_beat(world: Any) -> None:
    selection = select(world, [evaluated(world, "rf", report(metrics(0.97)))])
    assert selection.gate.champion_score is None
    assert selection.gate.to_beat is None
    assert selection.champion_metrics is None
    assert (selection.gate.threshold, selection.gate.margin) == (0.9, 0.005)


def test_failed_candidates_are_kept_aside_and_do_not_block_selection(world: Any) -> None:
    broken = failed("gb", "SageMaker.AmazonSageMakerException", "training job failed")
    results = [broken, evaluated(world, "rf", report(metrics(0.95)))]
    selection = select(world, results)
    assert selection.best.candidate.name == "rf"
    assert selection.failed == [broken]


def test_all_candidates_failed_names_each_reason(world: Any) -> None:
    results = [
        failed("rf", "States.TaskFailed", "AlgorithmError: out of memory"),
        failed("gb", "States.Timeout", ""),
    ]
    with pytest.raises(TrainingFailed) as excinfo:
        select(world, results)
    assert str(excinfo.value) == (
        "no candidate finished training and evaluation "
        "(rf: States.TaskFailed: AlgorithmError: out of memory; gb: States.Timeout: )"
    )


def test_failed_sync_job_is_named_by_its_own_failure_reason(world: Any) -> None:
    # Given a .sync task failed: its Cause is the Describe*Job document (or a Lambda error)
    describe = {
        "TrainingJobName": "mlops-x-rf-train",
        "TrainingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: ValueError: Input contains NaN",
    }
    lambda_error = {"errorMessage": "candidate rf: bad", "errorType": "EventMalformed"}
    results = [
        failed("rf", "SageMaker.AmazonSageMakerException", json.dumps(describe)),
        failed("gb", "EventMalformed", json.dumps(lambda_error)),
    ]
    # When / Then
    with pytest.raises(TrainingFailed) as excinfo:
        select(world, results)
    assert str(excinfo.value) == (
        "no candidate finished training and evaluation ("
        "rf: SageMaker.AmazonSageMakerException: AlgorithmError: ValueError: Input contains NaN; "
        "gb: EventMalformed: candidate rf: bad)"
    )


def test_long_failure_causes_are_cut_to_keep_the_message_readable(world: Any) -> None:
    with pytest.raises(TrainingFailed) as excinfo:
        select(world, [failed("rf", "States.TaskFailed", "y" * 1000)])
    assert str(excinfo.value).endswith(f"(rf: States.TaskFailed: {'y' * 300})")


def test_no_results_at_all_is_training_failed(world: Any) -> None:
    with pytest.raises(TrainingFailed, match=r"\(no candidates\)$"):
        select(world, [])


def test_missing_report_is_evaluation_invalid_naming_the_uri(world: Any) -> None:
    result = evaluated(world, "rf", None)
    with pytest.raises(EvaluationInvalid) as excinfo:
        select(world, [result])
    assert str(excinfo.value).startswith(f"{result.report_uri}: ")
    assert "NoSuchKey" in str(excinfo.value)


@pytest.mark.parametrize(
    "body",
    [b"{not json", {"candidate": {}}, {"champion": None}, []],
    ids=["bad-json", "no-metrics", "no-candidate", "not-an-object"],
)
def test_report_without_the_documented_shape_is_evaluation_invalid(
    world: Any, body: dict | bytes
) -> None:
    result = evaluated(world, "rf", body)
    with pytest.raises(EvaluationInvalid, match=f"^{result.report_uri}: "):
        select(world, [result])


def test_evaluated_result_without_report_uri_is_evaluation_invalid(world: Any) -> None:
    result = evaluated(world, "rf", report(metrics(0.9))).model_copy(update={"report_uri": None})
    with pytest.raises(EvaluationInvalid, match="^rf: evaluated without a report URI$"):
        select(world, [result])


def test_report_lacking_the_primary_metric_is_evaluation_invalid(world: Any) -> None:
    body = report({"accuracy": 0.95})
    with pytest.raises(EvaluationInvalid):
        select(world, [evaluated(world, "rf", body)])


# ---- direction-aware: regression errors are better lower ------------------------------------

REGRESSION = {"problem_type": "regression", "primary_metric": "rmse"}


def errors(rmse: float, r2: float = 0.4) -> dict[str, float]:
    return {"rmse": rmse, "mae": rmse * 0.8, "r2": r2}


def regression_report(candidate: dict, champion: dict | None = None) -> dict:
    return report(candidate, champion) | {"problem_type": "regression", "primary_metric": "rmse"}


def test_lower_is_better_picks_the_smallest_error_and_ranks_the_leaderboard_so(world) -> None:
    results = [
        evaluated(world, "rf", regression_report(errors(55.0))),
        evaluated(world, "gb", regression_report(errors(53.5))),
        evaluated(world, "linear", regression_report(errors(57.0))),
    ]
    selection = select(world, results, minimum_metric=65.0, improvement_margin=1.0, **REGRESSION)
    assert selection.best.candidate.name == "gb"
    assert [row["candidate"] for row in selection.leaderboard] == ["gb", "rf", "linear"]
    gate = selection.gate
    assert (gate.metric, gate.direction, gate.score, gate.threshold) == (
        "rmse",
        "lower",
        53.5,
        65.0,
    )


def test_lower_is_better_must_beat_the_champion_by_the_margin_downwards(world) -> None:
    results = [evaluated(world, "rf", regression_report(errors(53.5), champion=errors(55.0)))]
    gate = select(world, results, minimum_metric=65.0, improvement_margin=1.0, **REGRESSION).gate
    assert (gate.champion_score, gate.to_beat) == (55.0, 54.0)  # in the metric's own units


def test_r2_is_a_regression_metric_where_higher_is_better(world) -> None:
    results = [
        evaluated(world, "rf", regression_report(errors(55.0, r2=0.41))),
        evaluated(world, "gb", regression_report(errors(53.0, r2=0.39))),
    ]
    settings = {"problem_type": "regression", "primary_metric": "r2", "minimum_metric": 0.3}
    selection = select(world, results, **settings)
    assert selection.best.candidate.name == "rf" and selection.gate.direction == "higher"


def test_a_report_scored_for_another_problem_type_is_evaluation_invalid(world) -> None:
    result = evaluated(world, "rf", report(metrics(0.97)) | {"problem_type": "regression"})
    with pytest.raises(EvaluationInvalid, match="scored as regression, the stack's problem type"):
        select(world, [result])


def test_a_champion_that_was_not_comparable_is_reported_and_not_gated_on(world) -> None:
    skipped = "champion not comparable: trained for binary_classification, this run is regression"
    body = regression_report(errors(53.5)) | {"champion_skipped": skipped}
    selection = select(world, [evaluated(world, "rf", body)], minimum_metric=65.0, **REGRESSION)
    assert selection.champion_skipped == skipped and selection.gate.to_beat is None
