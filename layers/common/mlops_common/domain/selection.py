"""Champion/challenger: pick the best candidate and compute the gate the state machine applies."""

import json

from ..adapters.s3 import S3Store
from ..errors import EvaluationInvalid, TrainingFailed
from ..models import CandidateResult, Gate, RunContext, Selection
from ..settings import SelectCandidateSettings


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
        raise TrainingFailed(f"no candidate finished training and evaluation ({reasons})")
    scored = []
    for result in evaluated:
        report = _load_report(store, result, settings.primary_metric)
        scored.append((report["candidate"]["metrics"][settings.primary_metric], result, report))
    # Highest score wins; ties keep configuration order (max() returns the first maximum).
    score, best, report = max(scored, key=lambda item: item[0])
    champion = report.get("champion")
    champion_score = champion["metrics"][settings.primary_metric] if champion else None
    gate = Gate(
        metric=settings.primary_metric,
        score=score,
        floor=settings.minimum_metric,
        margin=settings.improvement_margin,
        champion_score=champion_score,
        to_beat=None if champion_score is None else champion_score + settings.improvement_margin,
    )
    assert best.report_uri is not None
    return Selection(
        best=best,
        metrics=report["candidate"]["metrics"],
        champion_metrics=champion["metrics"] if champion else None,
        quality_report_uri=best.report_uri.rsplit("/", 1)[0] + "/model_quality.json",
        gate=gate,
        failed=failed,
        leaderboard=[
            {"candidate": r.candidate.name, settings.primary_metric: s}
            for s, r, _ in sorted(scored, key=lambda i: -i[0])
        ],
    )


def _load_report(store: S3Store, result: CandidateResult, metric: str) -> dict:
    """The report, with the primary metric a number for the candidate (and the champion)."""
    if result.report_uri is None:
        raise EvaluationInvalid(f"{result.candidate.name}: evaluated without a report URI")
    try:
        report = store.read_json(result.report_uri)
        float(report["candidate"]["metrics"][metric])
        if report.get("champion"):
            float(report["champion"]["metrics"][metric])
    except Exception as exc:  # missing object, bad JSON or wrong shape: all the same to us
        raise EvaluationInvalid(f"{result.report_uri}: no usable '{metric}' ({exc!r})") from exc
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
    if isinstance(parsed, dict):
        cause = parsed.get("FailureReason") or parsed.get("errorMessage") or cause
    return f"{error.get('Error', 'unknown error')}: {str(cause)[:300]}"
