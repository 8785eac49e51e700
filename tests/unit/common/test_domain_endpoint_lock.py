"""The endpoint lock (design D3): the ledger is moto's DynamoDB, executions moto's Step
Functions (RUNNING until stopped) or, for the other end states, a fake with the same method."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_common.adapters.executions import Executions
from mlops_common.domain.endpoint_lock import acquire_endpoint, lock_key, release_endpoint
from mlops_common.domain.outcome import record_outcome
from mlops_common.models import Execution, OutcomeInput

ENDPOINT = "mlops-endpoint"
KEY = "lock#endpoint#mlops-endpoint"


class Ended:
    """Executions whose holder ended with `status` (None: the execution does not exist)."""

    def __init__(self, status: str | None) -> None:
        self._status = status

    def status(self, arn: str) -> str | None:
        return self._status


@pytest.fixture
def sfn(aws: Any) -> Any:
    client = aws.client("stepfunctions")
    client.create_state_machine(
        name="mlops-DeployPipeline",
        definition='{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, '
        '"End": true}}}',
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    return client


def start(sfn: Any, name: str) -> Execution:
    """A RUNNING DeployPipeline execution."""
    [machine] = sfn.list_state_machines()["stateMachines"]
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)
    return Execution(Name=name, Id=arn["executionArn"])


def acquire(world: Any, sfn: Any, execution: Execution, executions: Any = None) -> Any:
    return acquire_endpoint(
        ENDPOINT, execution, "deploy", world.ledger(), executions or Executions(sfn)
    )


def test_a_free_endpoint_is_acquired_and_the_lock_names_its_holder(world: Any, sfn: Any) -> None:
    first = start(sfn, "deploy-1")
    turn = acquire(world, sfn, first)
    assert (turn.acquired, turn.key, turn.holder, turn.holder_workflow) == (
        True,
        KEY,
        first.id,
        "deploy",
    )
    assert turn.reason == "the endpoint was free"
    item = world.ledger().read_lock(KEY)
    assert (item["holder"], item["status"], item["execution_name"]) == (
        first.id,
        "HELD",
        "deploy-1",
    )
    assert lock_key(ENDPOINT) == KEY


def test_a_lock_held_by_a_running_execution_makes_the_next_one_wait(world: Any, sfn: Any) -> None:
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    held = acquire(world, sfn, first)
    turn = acquire(world, sfn, second)
    assert (turn.acquired, turn.holder, turn.since) == (False, first.id, held.since)
    assert turn.reason == (
        f"waiting for a turn: deploy execution {first.id} has held the endpoint since {held.since}"
    )
    assert world.ledger().read_lock(KEY)["holder"] == first.id


def test_the_holder_asking_again_keeps_its_lock(world: Any, sfn: Any) -> None:
    # A retried AcquireEndpoint, or the WAIT loop of PlanDeployment coming back
    first = start(sfn, "deploy-1")
    held = acquire(world, sfn, first)
    again = acquire(world, sfn, first)
    assert (again.acquired, again.since, again.reason) == (
        True,
        held.since,
        "this execution holds the lock",
    )


def test_a_released_lock_is_free_for_the_next_execution(world: Any, sfn: Any) -> None:
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    acquire(world, sfn, first)
    assert world.ledger().release_lock(KEY, first.id) is True
    turn = acquire(world, sfn, second)
    assert (turn.acquired, turn.holder) == (True, second.id)


def test_a_lock_whose_holder_was_aborted_is_taken_over(world: Any, sfn: Any) -> None:
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    acquire(world, sfn, first)
    sfn.stop_execution(executionArn=first.id)  # ABORTED: it never reached RecordOutcome
    turn = acquire(world, sfn, second)
    assert (turn.acquired, turn.holder) == (True, second.id)
    assert turn.reason == f"taken over from {first.id}, which ended ABORTED"


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "SUCCEEDED", "PENDING_REDRIVE", None])
def test_a_lock_whose_holder_is_no_longer_running_is_taken_over(
    world: Any, sfn: Any, status: str | None
) -> None:
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    acquire(world, sfn, first)
    turn = acquire(world, sfn, second, Ended(status))
    assert (turn.acquired, turn.holder) == (True, second.id)
    assert turn.reason.endswith(f"which ended {status or 'and is gone'}")


def test_of_two_executions_taking_over_a_stale_lock_at_once_one_wins(world: Any, sfn: Any) -> None:
    # b reads the stale holder; before b writes, a reads it too and takes the lock over. b's
    # write is conditional on the stale holder still holding it, so b waits instead.
    stale, a, b = start(sfn, "deploy-0"), start(sfn, "deploy-a"), start(sfn, "deploy-b")
    acquire(world, sfn, stale)
    turns: dict[str, Any] = {}

    class AOvertakesB(Ended):
        def status(self, arn: str) -> str | None:
            if "a" not in turns:
                turns["a"] = acquire(world, sfn, a, Ended("FAILED"))
            return "FAILED"

    turns["b"] = acquire(world, sfn, b, AOvertakesB(None))
    assert (turns["a"].acquired, turns["b"].acquired) == (True, False)
    assert turns["b"].holder == a.id and turns["b"].reason.startswith("waiting for a turn")
    assert world.ledger().read_lock(KEY)["holder"] == a.id


def test_release_is_refused_to_an_execution_that_does_not_hold_the_lock(
    world: Any, sfn: Any
) -> None:
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    acquire(world, sfn, first)
    assert world.ledger().release_lock(KEY, second.id) is False
    assert world.ledger().read_lock(KEY)["status"] == "HELD"


def outcome_input(execution: Execution, state: dict[str, Any]) -> OutcomeInput:
    return OutcomeInput.model_validate(
        {"workflow": "deploy", "outcome": "DEPLOYED", "state": state,
         "execution": {"Name": execution.name, "Id": execution.id}}
    )  # fmt: skip


class Inbox:
    def publish(self, subject: str, message: dict, attributes: dict) -> str:
        return "message-1"


def test_record_outcome_releases_the_lock_its_execution_holds(world: Any, sfn: Any) -> None:
    first = start(sfn, "deploy-1")
    turn = acquire(world, sfn, first)
    state = {"lock": {"Payload": turn.model_dump()}}
    record_outcome(outcome_input(first, state), world.ledger(), Inbox())  # type: ignore[arg-type]
    item = world.ledger().read_lock(KEY)
    assert (item["status"], item["holder"]) == ("RELEASED", first.id)
    assert "released_at" in item  # updated, not deleted: the ledger is an audit trail


def test_a_terminal_path_without_the_lock_releases_nothing(world: Any, sfn: Any) -> None:
    # The second execution failed while waiting (its state shows a turn it did not get)
    first, second = start(sfn, "deploy-1"), start(sfn, "deploy-2")
    acquire(world, sfn, first)
    waiting = acquire(world, sfn, second)
    lock = {"lock": {"Payload": waiting.model_dump()}}
    assert release_endpoint(lock, second, world.ledger()) is False
    assert release_endpoint({}, second, world.ledger()) is False  # failed before its turn
    assert world.ledger().read_lock(KEY)["holder"] == first.id


def test_executions_adapter_reads_the_status_or_none(sfn: Any) -> None:
    running = start(sfn, "deploy-1")
    executions = Executions(sfn)
    assert executions.status(running.id) == "RUNNING"
    sfn.stop_execution(executionArn=running.id)
    assert executions.status(running.id) == "ABORTED"
    assert executions.status(running.id.replace("deploy-1", "never-ran")) is None
