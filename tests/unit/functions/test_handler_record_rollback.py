"""RecordRollback handler: `{"plan": $.plan.Payload, "execution": $$.Execution}`.

Payload: events/functions/record_rollback.json (an operator's rollback from v3 to v2), its
packages the ones moto holds and its execution renamed.
"""

import json
from typing import Any

import pytest
from mlops_common.adapters.ledger import Ledger
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def rollback(sample: Any, sfn_execution: Any) -> Any:
    """rollback(from_arn, to_arn, "rollback-1"): the sample's v3 -> v2 rollback of these
    packages, recorded by that RollbackPipeline execution."""

    def payload(from_arn: str | None, to_arn: str, execution: str) -> dict[str, Any]:
        return sample(
            "record_rollback",
            {
                "plan.from_package_arn": from_arn,
                "plan.model_package_arn": to_arn,
                "plan.execution_name": execution,
                "execution": sfn_execution(execution, "rollback"),
            },
        )

    return payload


def test_rollback_is_audited_in_the_ledger_and_the_bad_version_rejected(
    load_handler: Any, stack: Any, rollback: Any, lambda_context: Any, printed: Any
) -> None:
    # Given v3 (live, approved) was rolled back to v2
    handler = load_handler("record_rollback")
    _, v2, v3 = (stack.create_package("Approved") for _ in range(3))
    payload = rollback(v3, v2, "rollback-1")
    plan = payload["plan"]
    # When
    output = handler.lambda_handler(payload, lambda_context)
    # Then
    assert json.loads(json.dumps(output)) == output
    assert output == {
        "audit_key": f"rollback#{plan['endpoint_name']}",
        "from_version": 3,
        "to_version": 2,
        "rejected": v3,
    }
    [entry] = Ledger(stack.ledger).entries(output["audit_key"])
    assert {k: entry[k] for k in ("trigger", "requested_by", "from_version", "to_version")} == {
        "trigger": "operator",
        "requested_by": "alice@example.com",
        "from_version": 3,
        "to_version": 2,
    }
    assert (entry["from_config"], entry["to_config"]) == (
        plan["previous_config"],
        plan["endpoint_config"]["EndpointConfigName"],
    )
    assert entry["execution_arn"] == payload["execution"]["Id"]
    assert entry["sk"].startswith("at#") and entry["when"]
    package = stack.sagemaker.describe_model_package(ModelPackageName=v3)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].startswith("rolled back by rollback-1: ")
    assert printed().correlation_ids() == {"rollback-1"}


def test_plan_without_a_package_to_reject_is_still_audited(
    load_handler: Any, stack: Any, rollback: Any, lambda_context: Any
) -> None:
    handler = load_handler("record_rollback")
    v2 = stack.create_package("Approved")
    output = handler.lambda_handler(rollback(None, v2, "rollback-2"), lambda_context)
    assert (output["rejected"], output["from_version"], output["to_version"]) == (None, 3, 2)
    entries = Ledger(stack.ledger).entries(output["audit_key"])
    assert [e["execution_arn"] for e in entries] == [
        "arn:aws:states:us-east-1:123456789012:execution:rollback:rollback-2"
    ]


def test_plan_that_is_not_a_rollback_plan_is_refused_before_any_write(
    load_handler: Any, stack: Any, rollback: Any, lambda_context: Any
) -> None:
    # A trigger outside the model's Literal: the parser refuses it, nothing is audited.
    handler = load_handler("record_rollback")
    payload = rollback(None, "arn", "rollback-3")
    payload["plan"]["trigger"] = "cron"
    with pytest.raises(ValidationError) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    assert [error["loc"] for error in excinfo.value.errors()] == [("plan", "trigger")]
    assert Ledger(stack.ledger).entries(f"rollback#{payload['plan']['endpoint_name']}") == []
