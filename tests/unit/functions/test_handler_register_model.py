"""RegisterModel handler: `{"run": $.start.Payload.run, "selection": $.selection.Payload}`.

Payload: events/functions/register_model.json (gb beat the champion v2).
"""

import json
from typing import Any

import pytest
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.mark.parametrize(
    ("auto_approve", "status"), [("false", "PendingManualApproval"), ("true", "Approved")]
)
def test_registration_returns_the_package_and_its_status(
    load_handler: Any,
    stack: Any,
    sample: Any,
    lambda_context: Any,
    printed: Any,
    auto_approve: str,
    status: str,
) -> None:
    handler = load_handler("register_model", AUTO_APPROVE=auto_approve)
    payload = sample("register_model")
    output = handler.lambda_handler(payload, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"model_package_arn", "version", "approval_status"}
    assert (output["version"], output["approval_status"]) == (1, status)
    package = stack.sagemaker.describe_model_package(ModelPackageName=output["model_package_arn"])
    assert package["ModelPackageGroupName"] == stack.group
    assert package["CustomerMetadataProperties"]["code_version"] == "v7"
    lineage = package["CustomerMetadataProperties"]
    assert lineage["execution_arn"] == payload["run"]["execution_arn"]
    assert printed().correlation_ids() == {payload["run"]["run_id"]}


def test_selection_without_gate_is_rejected_naming_the_field(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("register_model")
    payload = sample("register_model")
    del payload["selection"]["gate"]
    with pytest.raises(ValidationError, match="selection.gate"):
        handler.lambda_handler(payload, lambda_context)
