"""record_rollback: the audit entry of a finished rollback, and the bad version rejected.

The ledger is moto's DynamoDB; the clock (ledger.now_iso, as rollback.py imports it) is fixed so
the entry can be compared whole.
"""

from typing import Any

import pytest
from mlops_common.adapters import ledger as ledger_module
from mlops_common.domain import rollback as rollback_module
from mlops_common.domain.deployment import resource_name
from mlops_common.domain.rollback import audit_key, record_rollback
from mlops_common.models import Execution, RecordRollbackOutput, RollbackPlan

ENDPOINT = "mlops-endpoint"
EXECUTION = Execution(
    Name="rollback-1", Id="arn:aws:states:us-east-1:123456789012:execution:rollback:rollback-1"
)
AT = "2026-03-02T10:45:00+00:00"
KEY = "rollback#mlops-endpoint"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """clock("...") sets what now_iso returns, in the ledger and in rollback.py alike."""

    def set_time(value: str) -> None:
        monkeypatch.setattr(ledger_module, "now_iso", lambda: value)
        monkeypatch.setattr(rollback_module, "now_iso", lambda: value)

    set_time(AT)
    return set_time


def rollback_plan(
    from_arn: str | None, to_arn: str, trigger: str = "operator", who: str = "alice@example.com"
) -> RollbackPlan:
    """v3 (live) -> v2, as plan_rollback returns it."""
    target = resource_name(ENDPOINT, 2, EXECUTION.name)
    return RollbackPlan(
        action="ROLLBACK",
        reason="complaints about v3; rolling back from version 3 to 2",
        trigger=trigger,  # type: ignore[arg-type]
        requested_by=who,
        endpoint_name=ENDPOINT,
        from_version=3,
        from_package_arn=from_arn,
        previous_config=resource_name(ENDPOINT, 3, "deploy-3"),
        model_package_arn=to_arn,
        version=2,
        model={"ModelName": target},
        endpoint_config={"EndpointConfigName": target},
    )


def test_audit_key_is_per_endpoint() -> None:
    assert audit_key(ENDPOINT) == KEY


def test_rollback_is_audited_and_the_version_rolled_back_from_is_rejected(
    world: Any, clock: Any
) -> None:
    # Given v3 (live, approved) is rolled back to v2
    _, v2, v3 = [world.create_package("Approved") for _ in range(3)]
    plan = rollback_plan(v3, v2)
    # When
    result = record_rollback(plan, EXECUTION, world.ledger(), world.registry())
    # Then
    assert result == RecordRollbackOutput(audit_key=KEY, from_version=3, to_version=2, rejected=v3)
    assert world.ledger().entries(KEY) == [
        {
            "pk": KEY,
            "sk": f"at#{AT}",
            "when": AT,
            "why": "complaints about v3; rolling back from version 3 to 2",
            "trigger": "operator",
            "requested_by": "alice@example.com",
            "from_version": 3,
            "to_version": 2,
            "from_config": resource_name(ENDPOINT, 3, "deploy-3"),
            "to_config": resource_name(ENDPOINT, 2, "rollback-1"),
            "passed_over": [],
            "execution_arn": EXECUTION.id,
        }
    ]
    # And v3 leaves the pool of known-good versions, with the reason naming the execution
    rejected = world.sagemaker.describe_model_package(ModelPackageName=v3)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["ApprovalDescription"] == (
        "rolled back by rollback-1: complaints about v3; rolling back from version 3 to 2"
    )
    target = world.sagemaker.describe_model_package(ModelPackageName=v2)
    assert target["ModelApprovalStatus"] == "Approved"


def test_already_rejected_version_is_left_alone(world: Any, clock: Any) -> None:
    # Given v3 was rejected (with its own reason) before the rollback was recorded
    _, v2, v3 = [world.create_package("Approved") for _ in range(3)]
    world.sagemaker.update_model_package(
        ModelPackageArn=v3, ModelApprovalStatus="Rejected", ApprovalDescription="bad canary"
    )
    # When
    result = record_rollback(rollback_plan(v3, v2), EXECUTION, world.ledger(), world.registry())
    # Then its status and reason are kept, and the rollback is still audited
    assert result.rejected is None
    package = world.sagemaker.describe_model_package(ModelPackageName=v3)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Rejected",
        "bad canary",
    )
    [entry] = world.ledger().entries(KEY)
    assert (entry["from_version"], entry["to_version"]) == (3, 2)


def test_rollback_triggered_by_the_rejection_rejects_nothing(world: Any, clock: Any) -> None:
    # plan_rollback leaves from_package_arn empty when the live version is no longer approved
    _, v2, _ = [world.create_package("Approved") for _ in range(3)]
    plan = rollback_plan(None, v2, trigger="rejected-package", who="model registry")
    result = record_rollback(plan, EXECUTION, world.ledger(), world.registry())
    assert result.rejected is None
    [entry] = world.ledger().entries(KEY)
    assert (entry["trigger"], entry["requested_by"]) == ("rejected-package", "model registry")


def test_every_rollback_adds_an_entry_in_time_order(world: Any, clock: Any) -> None:
    _, v2, v3 = [world.create_package("Approved") for _ in range(3)]
    record_rollback(rollback_plan(v3, v2), EXECUTION, world.ledger(), world.registry())
    clock("2026-03-03T08:00:00+00:00")
    second = rollback_plan(None, v2, trigger="alarm", who="alarm mlops-endpoint-5xx")
    record_rollback(second, EXECUTION, world.ledger(), world.registry())
    entries = world.ledger().entries(KEY)
    assert [(e["when"], e["trigger"]) for e in entries] == [
        (AT, "operator"),
        ("2026-03-03T08:00:00+00:00", "alarm"),
    ]


def test_audit_entries_of_other_endpoints_are_apart(world: Any, clock: Any) -> None:
    _, v2, v3 = [world.create_package("Approved") for _ in range(3)]
    record_rollback(rollback_plan(v3, v2), EXECUTION, world.ledger(), world.registry())
    assert world.ledger().entries("rollback#other-endpoint") == []
