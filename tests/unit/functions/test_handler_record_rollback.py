"""RecordRollback handler: `{"plan": $.plan.Payload, "execution": $$.Execution}`."""

import json
from typing import Any

import pytest
from mlops_common.adapters.ledger import Ledger
from mlops_common.domain.deployment import resource_name
from pydantic import ValidationError

ENDPOINT = "mlops-endpoint"
LEDGER_TABLE = "mlops-ledger"  # LEDGER_TABLE in the functions' test environment


def rollback_plan(from_arn: str | None, to_arn: str) -> dict[str, Any]:
    """PlanRollback's ROLLBACK output, v2 -> v1."""
    target = resource_name(ENDPOINT, 1, "rollback-1")
    return {
        "action": "ROLLBACK",
        "reason": "alarm entered ALARM; rolling back from version 2 to 1",
        "trigger": "alarm",
        "requested_by": "alarm mlops-endpoint-5xx",
        "endpoint_name": ENDPOINT,
        "from_version": 2,
        "from_package_arn": from_arn,
        "previous_config": resource_name(ENDPOINT, 2, "deploy-2"),
        "model_package_arn": to_arn,
        "version": 1,
        "model": {"ModelName": target},
        "endpoint_config": {"EndpointConfigName": target},
    }


def test_rollback_is_audited_in_the_ledger_and_the_bad_version_rejected(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    # Given v2 (live, approved) was rolled back to v1
    handler = load_handler("record_rollback")
    v1 = stack.create_package("Approved")
    v2 = stack.create_package("Approved")
    execution = sfn_execution("rollback-1", "rollback")
    # When
    output = handler.lambda_handler(
        {"plan": rollback_plan(v2, v1), "execution": execution}, lambda_context
    )
    # Then
    assert json.loads(json.dumps(output)) == output
    assert output == {
        "audit_key": f"rollback#{ENDPOINT}",
        "from_version": 2,
        "to_version": 1,
        "rejected": v2,
    }
    [entry] = Ledger(stack.dynamodb.Table(LEDGER_TABLE)).entries(output["audit_key"])
    assert {k: entry[k] for k in ("trigger", "requested_by", "from_version", "to_version")} == {
        "trigger": "alarm",
        "requested_by": "alarm mlops-endpoint-5xx",
        "from_version": 2,
        "to_version": 1,
    }
    assert (entry["from_config"], entry["to_config"]) == (
        resource_name(ENDPOINT, 2, "deploy-2"),
        resource_name(ENDPOINT, 1, "rollback-1"),
    )
    assert entry["execution_arn"] == execution["Id"]
    assert entry["sk"].startswith("at#") and entry["when"]
    package = stack.sagemaker.describe_model_package(ModelPackageName=v2)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].startswith("rolled back by rollback-1: ")


def test_plan_without_a_package_to_reject_is_still_audited(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("record_rollback")
    v1 = stack.create_package("Approved")
    output = handler.lambda_handler(
        {"plan": rollback_plan(None, v1), "execution": sfn_execution("rollback-2", "rollback")},
        lambda_context,
    )
    assert (output["rejected"], output["from_version"], output["to_version"]) == (None, 2, 1)
    entries = Ledger(stack.dynamodb.Table(LEDGER_TABLE)).entries(output["audit_key"])
    assert [e["execution_arn"] for e in entries] == [
        "arn:aws:states:us-east-1:123456789012:execution:rollback:rollback-2"
    ]


def test_plan_that_is_not_a_rollback_plan_is_refused_before_any_write(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    # A trigger outside the model's Literal: the parser refuses it, nothing is audited.
    handler = load_handler("record_rollback")
    plan = rollback_plan(None, "arn") | {"trigger": "cron"}
    with pytest.raises(ValidationError) as excinfo:
        handler.lambda_handler(
            {"plan": plan, "execution": sfn_execution("rollback-3", "rollback")}, lambda_context
        )
    assert [error["loc"] for error in excinfo.value.errors()] == [("plan", "trigger")]
    assert Ledger(stack.dynamodb.Table(LEDGER_TABLE)).entries(f"rollback#{ENDPOINT}") == []
