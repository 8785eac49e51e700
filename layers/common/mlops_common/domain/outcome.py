"""How a workflow ends: one notification an operator can act on, and the ledger updated."""

from typing import Any

from ..adapters.ledger import Ledger
from ..adapters.notifier import Notifier
from ..models import (
    BurstStart,
    DatasetLocation,
    DatasetUpload,
    OutcomeInput,
    OutcomeOutput,
    RetrainRequest,
    RunContext,
)
from .endpoint_lock import release_endpoint
from .events import training_start_of
from .failure import describe_failure
from .feature_schema import describe
from .spot import time_figures

HEADLINES = {
    ("training", "REGISTERED"): "new model version registered",
    ("training", "NOT_BETTER"): "candidate not better than the champion; nothing registered",
    ("training", "SKIPPED"): "nothing to train: dataset version already handled, or not a dataset",
    ("training", "FAILED"): "training run failed",
    ("deploy", "DEPLOYED"): "model deployed and smoke-tested",
    ("deploy", "SKIPPED"): "nothing to deploy",
    ("deploy", "FAILED"): "deployment failed",
    ("deploy", "SHADOW_DISCARDED"): "candidate rejected by its shadow test; production unchanged",
    ("deploy", "AB_TEST_STOPPED"): "candidate stopped by its A/B test; the live version serves "
    "alone",
    ("deploy", "SUPERSEDED"): "not deployed: a newer approved version superseded it",
    ("rollback", "ROLLED_BACK"): "production rolled back to the last known-good model",
    ("rollback", "NOTHING_TO_ROLL_BACK"): "rollback requested but no older approved model exists; "
    "the endpoint keeps its model",
    ("rollback", "SKIPPED"): "no rollback needed: production is unaffected or a deployment's "
    "guardrails decide",
    ("rollback", "FAILED"): "rollback failed",
    ("drift", "DRIFT_DETECTED"): "drift detected on the live model; retraining requested",
    ("drift", "NO_DRIFT"): "drift check: live traffic matches the training baseline",
    ("drift", "TOO_FEW_ROWS"): "drift check: too few captured requests to decide",
    ("drift", "NOT_CHECKED"): "drift check: nothing to check",
    ("drift", "FAILED"): "drift check failed",
}


def summarize(request: OutcomeInput) -> dict[str, Any]:
    """The notification body: one readable line (`summary`) first, then the headline, the
    execution and the facts of this outcome. An error is named with the first line of its
    cause, never the raw error document; a training run names its dataset version even when
    it failed before it had one (from the execution input)."""
    state = request.state
    headline = HEADLINES.get((request.workflow, request.outcome), request.outcome.lower())
    message: dict[str, Any] = {
        "summary": headline,
        "workflow": request.workflow,
        "outcome": request.outcome,
        "headline": headline,
        "execution": request.execution.id,
    }
    run = _run_of(state)
    started_by = request.execution.input if request.workflow == "training" else None
    dataset, named = _dataset_of(run, started_by)
    line = _skip_reason(state) or headline
    verdict = (state.get("verdict") or {}).get("Payload")
    if isinstance(verdict, dict) and verdict.get("summary"):  # a drift check's own line
        line = verdict["summary"]
        message["drift"] = verdict
    ab_result = (state.get("ab_result") or {}).get("Payload")
    if request.outcome == "AB_TEST_STOPPED" and isinstance(ab_result, dict):
        line = f"{headline}: {ab_result.get('reason')}"  # why, by the rule or the operator
    if "error" in state:
        message["error"], message["cause"] = describe_failure(state["error"])
        line = f"{message['error']}: {message['cause']}"
    if named and named.split(" version ")[0] not in line:  # the object, unless said already
        line = f"{line} ({named})"
    message["summary"] = line
    if dataset is not None:
        message["dataset"] = dataset
    if run is not None and run.trigger is not None:
        message["trigger"] = run.trigger.model_dump(mode="json", exclude_none=True)
    if run is not None and run.schema_change is not None:  # judged on the floor alone: say so
        message["schema_change"] = run.schema_change.model_dump(mode="json")
        if "error" not in state:
            message["summary"] = f"{message['summary']} ({describe(run.schema_change)})"
    for key in (
        "selection",
        "registration",
        "plan",
        "shadow_result",
        "ab_result",
        "verification",
        "smoke",
        "rollback",
    ):
        value = state.get(key)
        if isinstance(value, dict):
            message[key] = value.get("Payload", value)
    if isinstance(state.get("candidates"), list):
        message["candidates"] = state["candidates"]
    if request.outcome == "REGISTERED" and (times := _training_time(message)):
        message["training_time"] = times  # TrainingTime/BillableTimeInSeconds, the spot saving
        if float(times.get("spot_saving_percent", 0)) > 0:
            message["summary"] += (
                f" (billed {times['billable_seconds']} s of {times['training_seconds']} s "
                f"training: {times['spot_saving_percent']}% spot saving)"
            )
    return message


def _training_time(message: dict[str, Any]) -> dict[str, str]:
    """The registered candidate's training and billable seconds and the saving."""
    best = (message.get("selection") or {}).get("best") or {}
    return time_figures(best.get("training_seconds"), best.get("billable_seconds"))


def record_outcome(request: OutcomeInput, ledger: Ledger, notifier: Notifier) -> OutcomeOutput:
    release_endpoint(request.state, request.execution, ledger)  # design D3: every terminal path
    message = summarize(request)
    recorded = False
    run = _run_of(request.state)
    if run is not None:
        recorded = ledger.finish(run.business_key, run.run_id, request.outcome, message)
    elif request.workflow == "training" and request.outcome == "FAILED":
        # The failing state left no run (ValidateDataset crashed after its claim, say): the
        # claim is closed from what started the execution, if this execution holds it.
        key = _claim_key_of(request.execution.input)
        if key is not None:
            # Only a claim still RUNNING: ValidateDataset may have ended it (REJECTED) itself.
            recorded = ledger.finish(
                key, request.execution.name, "FAILED", message, only_running=True
            )
    subject = f"[mlops] {request.workflow}: {message['headline']}"
    message_id = notifier.publish(
        subject, message, {"workflow": request.workflow, "outcome": request.outcome}
    )
    return OutcomeOutput(subject=subject, message_id=message_id, recorded=recorded)


def _run_of(state: dict[str, Any]) -> RunContext | None:
    """The training run, where the state has one (`$.start.Payload.run` in the ASL)."""
    run = ((state.get("start") or {}).get("Payload") or {}).get("run")
    return RunContext.model_validate(run) if run else None


def _claim_key_of(started_by: Any) -> str | None:
    """The business key a run of this input claims, where the input alone names it: an upload,
    or a plain retrain of a given version (a forced retrain's attempt, or a version resolved at
    run time, is known only to the run; a claim left by it is taken over by the next run once
    this execution has ended, domain.intake)."""
    start = training_start_of(started_by)
    if isinstance(start, DatasetUpload):
        version = start.version_id or start.etag
        return f"dataset#{start.uri}#{version}" if version else None
    if isinstance(start, BurstStart) and start.upload is not None:
        return f"dataset#{start.uri}{start.upload.key[len(start.prefix) :]}#{start.upload.version}"
    if isinstance(start, RetrainRequest) and not start.force:
        where = start.dataset
        if isinstance(where, DatasetLocation) and where.version_id:
            return f"dataset#{where.uri}#{where.version_id}"
    return None


def _skip_reason(state: dict[str, Any]) -> str | None:
    """Why ValidateDataset skipped (`$.start.Payload.reason` of a SKIP)."""
    payload = (state.get("start") or {}).get("Payload") or {}
    return payload.get("reason") if payload.get("action") == "SKIP" else None


def _dataset_of(run: RunContext | None, started_by: Any) -> tuple[dict[str, Any] | None, str]:
    """(the dataset's facts, the words naming it) from the run, else from what started the
    execution: an upload event or a retrain request. (None, "") when neither names one."""
    if run is not None:
        ref = run.dataset
        return ref.model_dump(mode="json"), f"{ref.uri} version {ref.version_id or ref.etag}"
    start = training_start_of(started_by)
    if start is None:
        return None, ""
    if isinstance(start, DatasetUpload):
        version = start.version_id or start.etag
        named = f"{start.uri} version {version}"
        return {"bucket": start.bucket, "key": start.key, "version_id": start.version_id,
                "etag": start.etag}, named  # fmt: skip
    if isinstance(start, BurstStart) and start.upload is not None:
        named = f"s3://{start.bucket}/{start.upload.key} version {start.upload.version}"
        # version: the version id (the ETag in an unversioned bucket), as an upload event's
        return {"bucket": start.bucket, "key": start.upload.key,
                "version_id": start.upload.version}, named  # fmt: skip
    if isinstance(start, BurstStart):  # resolved by the run; it failed before saying which
        return {"burst": start.uri}, f"the newest upload under {start.uri}"
    assert isinstance(start, RetrainRequest)
    if start.dataset == "latest":
        return {"requested": "latest"}, "the latest dataset"
    where = start.dataset
    named = where.uri + (f" version {where.version_id}" if where.version_id else "")
    return where.model_dump(mode="json"), named
