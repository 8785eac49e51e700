"""How a workflow ends: one notification an operator can act on, and the ledger updated."""

from typing import Any

from ..adapters.ledger import Ledger
from ..adapters.notifier import Notifier
from ..models import OutcomeInput, OutcomeOutput, RunContext
from .endpoint_lock import release_endpoint

HEADLINES = {
    ("training", "REGISTERED"): "new model version registered",
    ("training", "NOT_BETTER"): "candidate not better than the champion; nothing registered",
    ("training", "SKIPPED"): "dataset version already handled; nothing to do",
    ("training", "FAILED"): "training run failed",
    ("deploy", "DEPLOYED"): "model deployed and smoke-tested",
    ("deploy", "SKIPPED"): "nothing to deploy",
    ("deploy", "FAILED"): "deployment failed",
    ("deploy", "SHADOW_DISCARDED"): "candidate rejected by its shadow test; production unchanged",
    ("deploy", "SUPERSEDED"): "not deployed: a newer approved version superseded it",
    ("rollback", "ROLLED_BACK"): "production rolled back to the last known-good model",
    ("rollback", "NOTHING_TO_ROLL_BACK"): "rollback requested but no older approved model exists; "
    "the endpoint keeps its model",
    ("rollback", "SKIPPED"): "no rollback needed: production is unaffected or a deployment's "
    "guardrails decide",
    ("rollback", "FAILED"): "rollback failed",
}


def summarize(request: OutcomeInput) -> dict[str, Any]:
    """The notification body: headline, execution and the facts of this outcome."""
    state = request.state
    message: dict[str, Any] = {
        "workflow": request.workflow,
        "outcome": request.outcome,
        "headline": HEADLINES.get((request.workflow, request.outcome), request.outcome.lower()),
        "execution": request.execution.id,
    }
    if "error" in state:
        message["error"] = state["error"].get("Error")
        message["cause"] = _short(state["error"].get("Cause"))
    run = _run_of(state)
    if run is not None:
        message["dataset"] = run.dataset.model_dump(mode="json")
    for key in (
        "selection",
        "registration",
        "plan",
        "shadow_result",
        "verification",
        "smoke",
        "rollback",
    ):
        value = state.get(key)
        if isinstance(value, dict):
            message[key] = value.get("Payload", value)
    if isinstance(state.get("candidates"), list):
        message["candidates"] = state["candidates"]
    return message


def record_outcome(request: OutcomeInput, ledger: Ledger, notifier: Notifier) -> OutcomeOutput:
    release_endpoint(request.state, request.execution, ledger)  # design D3: every terminal path
    message = summarize(request)
    recorded = False
    run = _run_of(request.state)
    if run is not None:
        recorded = ledger.finish(run.dataset.business_key, run.run_id, request.outcome, message)
    subject = f"[mlops] {request.workflow}: {message['headline']}"
    message_id = notifier.publish(
        subject, message, {"workflow": request.workflow, "outcome": request.outcome}
    )
    return OutcomeOutput(subject=subject, message_id=message_id, recorded=recorded)


def _run_of(state: dict[str, Any]) -> RunContext | None:
    """The training run, where the state has one (`$.start.Payload.run` in the ASL)."""
    run = ((state.get("start") or {}).get("Payload") or {}).get("run")
    return RunContext.model_validate(run) if run else None


def _short(cause: Any, limit: int = 2000) -> Any:
    return cause[:limit] if isinstance(cause, str) else cause
