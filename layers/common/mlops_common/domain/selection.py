"""Champion/challenger: pick the best candidate and compute the gate the state machine applies.

"Best" and "beats" follow the primary metric's direction (domain.problem): the highest f1, the
lowest rmse. The gate keeps the figures in the metric's own units; BeatsChampion compares them.
"""

import json

from ..adapters.s3 import S3Store
from ..errors import EvaluationInvalid, SpotCapacityUnavailable, TrainingFailed
from ..models import CandidateResult, Gate, RunContext, Selection
from ..settings import SelectCandidateSettings
from .feature_schema import describe
from .problem import direction
from .spot import MAX_WAIT_EXCEEDED, ran_out_of_spot_wait


def select_best(
    run: RunContext,
    results: list[CandidateResult],
    settings: SelectCandidateSettings,
    store: S3Store,
) -> Selection:
    evaluated = [r for r in results if r.status == "EVALUATED"]
    failed = [r for r in results if r.status == "FAILED"]
    if not evaluated:
        reasons = "; ".join(f"{r.candidate.name}: {_reason(r)}" for r in failed) or "no candidates"
        if failed and all(_out_of_spot_wait(r) for r in failed):
            raise SpotCapacityUnavailable(
                f"no candidate finished: every training job waited for spot capacity past "
                f"MaxWaitTimeInSeconds ({reasons})"
            )
        raise TrainingFailed(f"no candidate finished training and evaluation ({reasons})")
    metric = settings.primary_metric
    way = direction(metric)
    scored = []
    for result in evaluated:
        report = _load_report(store, result, metric, settings.problem_type)
        scored.append((report["candidate"]["metrics"][metric], result, report))
    # Best in the metric's direction; ties keep configuration order (sorted() is stable).
    ranked = sorted(scored, key=lambda item: -item[0] if way == "higher" else item[0])
    score, best, report = ranked[0]
    champion = report.get("champion")
    champion_score = champion["metrics"][metric] if champion else None
    margin = settings.improvement_margin
    to_beat = None  # the champion's score moved by the margin in the better direction
    if champion_score is not None:
        to_beat = champion_score + margin if way == "higher" else champion_score - margin
    gate = Gate(
        metric=metric,
        direction=way,
        score=score,
        threshold=settings.minimum_metric,
        margin=margin,
        champion_score=champion_score,
        to_beat=to_beat,
    )
    assert best.report_uri is not None
    return Selection(
        best=best,
        metrics=report["candidate"]["metrics"],
        champion_metrics=champion["metrics"] if champion else None,
        quality_report_uri=best.report_uri.rsplit("/", 1)[0] + "/model_quality.json",
        gate=gate,
        # A declared schema change trains without a champion: the gate says why.
        champion_skipped=describe(run.schema_change)
        if run.schema_change
        else report.get("champion_skipped"),
        failed=failed,
        leaderboard=[{"candidate": r.candidate.name, metric: s} for s, r, _ in ranked],
    )


def _load_report(store: S3Store, result: CandidateResult, metric: str, problem: str) -> dict:
    """The report, with the primary metric a number for the candidate (and the champion),
    scored for the stack's problem type."""
    if result.report_uri is None:
        raise EvaluationInvalid(f"{result.candidate.name}: evaluated without a report URI")
    try:
        report = store.read_json(result.report_uri)
        float(report["candidate"]["metrics"][metric])
        if report.get("champion"):
            float(report["champion"]["metrics"][metric])
    except Exception as exc:  # missing object, bad JSON or wrong shape: all the same to us
        raise EvaluationInvalid(f"{result.report_uri}: no usable '{metric}' ({exc!r})") from exc
    scored_as = report.get("problem_type", problem)  # reports before problem types: binary
    if scored_as != problem:
        raise EvaluationInvalid(
            f"{result.report_uri}: scored as {scored_as}, the stack's problem type is {problem}"
        )
    return report


def _reason(result: CandidateResult) -> str:
    """The job's own FailureReason where the cause is a Describe*Job document (a failed .sync
    task), else the cause text."""
    error = result.error or {}
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if ran_out_of_spot_wait(parsed):  # Stopped without a FailureReason: say why
        return f"{SpotCapacityUnavailable.__name__}: training job stopped: {MAX_WAIT_EXCEEDED}"
    if isinstance(parsed, dict):
        cause = parsed.get("FailureReason") or parsed.get("errorMessage") or cause
    return f"{error.get('Error', 'unknown error')}: {str(cause)[:300]}"


def _out_of_spot_wait(result: CandidateResult) -> bool:
    try:
        return ran_out_of_spot_wait(json.loads((result.error or {}).get("Cause", "")))
    except (TypeError, ValueError):
        return False
