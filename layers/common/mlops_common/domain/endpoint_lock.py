"""One workflow at a time per endpoint (design decision D3).

The lock is a ledger item `pk = lock#endpoint#<EndpointName>`, `sk = lock`, holding the
execution ARN of its holder, its workflow and when it was acquired. The DeployPipeline and the
RollbackPipeline take it before they plan (AcquireEndpoint, then a Choice, then the Wait state
WaitForTurn and back), so waiting for a turn shows in the execution history.

It is free when the item is absent, released, held by the asking execution (a retried or
redriven task), or held by an execution that is no longer RUNNING (DescribeExecution): a crash,
a timeout or an abort never blocks the endpoint. Every terminal path of both workflows goes
through RecordOutcome, which releases a lock its execution holds. Release is an update (status
RELEASED); no function deletes ledger items. Taking and taking over are conditional writes, so
two executions racing for a free lock cannot both win.
"""

from typing import Any

from ..adapters.executions import Executions
from ..adapters.ledger import LOCK_HELD, Ledger
from ..models import AcquireEndpointOutput, Execution


def lock_key(endpoint_name: str) -> str:
    return f"lock#endpoint#{endpoint_name}"


def acquire_endpoint(
    endpoint_name: str,
    execution: Execution,
    workflow: str,
    ledger: Ledger,
    executions: Executions,
) -> AcquireEndpointOutput:
    key = lock_key(endpoint_name)
    acquired, item, why = take_lock(key, "the endpoint", execution, workflow, ledger, executions)
    return _answer(acquired, key, endpoint_name, item, why)


def take_lock(
    key: str,
    what: str,
    execution: Execution,
    workflow: str,
    ledger: Ledger,
    executions: Executions,
) -> tuple[bool, dict[str, Any] | None, str]:
    """(acquired, the lock item, why) for any ledger lock `key` (the endpoint's, the
    registry's): free when absent, released, held by `execution`, or held by an execution that
    is no longer RUNNING."""
    item = ledger.read_lock(key)
    if _held_by(item, execution.id):
        return True, item, "this execution holds the lock"
    stale, why = None, f"{what} was free"
    if item is not None and item.get("status") == LOCK_HELD:
        status = executions.status(item["holder"])
        if status == "RUNNING":
            return False, item, _waiting(item, what)
        stale = item["holder"]
        why = f"taken over from {stale}, which ended {status or 'and is gone'}"
    attributes = {"workflow": workflow, "execution_name": execution.name}
    holder = ledger.acquire_lock(key, execution.id, attributes, stale_holder=stale)
    if holder is None:
        return True, ledger.read_lock(key), why
    return False, holder, _waiting(holder, what)  # lost a race


def release_endpoint(state: dict[str, Any], execution: Execution, ledger: Ledger) -> bool:
    """Releases the endpoint lock this execution holds, if its state shows one (the result of
    AcquireEndpoint at `$.lock`). Called by RecordOutcome on every terminal path; True if it
    released a lock."""
    key = ((state.get("lock") or {}).get("Payload") or {}).get("key")
    return bool(key) and ledger.release_lock(key, execution.id)


def _held_by(item: dict[str, Any] | None, holder: str) -> bool:
    return item is not None and item.get("status") == LOCK_HELD and item.get("holder") == holder


def _waiting(item: dict[str, Any], what: str) -> str:
    return (
        f"waiting for a turn: {item.get('workflow', 'a workflow')} execution {item['holder']} "
        f"has held {what} since {item.get('acquired_at')}"
    )


def _answer(
    acquired: bool, key: str, endpoint_name: str, item: dict[str, Any] | None, reason: str
) -> AcquireEndpointOutput:
    item = item or {}
    return AcquireEndpointOutput(
        acquired=acquired,
        key=key,
        endpoint_name=endpoint_name,
        holder=str(item.get("holder", "")),
        holder_workflow=str(item.get("workflow", "")),
        since=str(item.get("acquired_at", "")),
        reason=reason,
    )
