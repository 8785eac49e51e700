"""RecordOutcome handler: `{"workflow", "outcome", "execution": $$.Execution, "state": $}`.

Payload: events/functions/record_outcome.json, the state of a training run after RegisterModel.
"""

import json
from typing import Any

import pytest
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_outcome_is_published_recorded_and_counted(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any, printed: Any
) -> None:
    # Given the training state after RegisterModel, and its run holding its dataset version
    handler = load_handler("record_outcome")
    payload = sample("record_outcome")
    run = payload["state"]["start"]["Payload"]["run"]
    dataset = run["dataset"]
    business_key = f"dataset#s3://{dataset['bucket']}/{dataset['key']}#{dataset['version_id']}"
    stack.ledger.put_item(
        Item={"pk": business_key, "sk": "run", "run_id": run["run_id"], "status": "RUNNING"}
    )
    # When
    output = handler.lambda_handler(payload, lambda_context)
    # Then
    assert json.loads(json.dumps(output)) == output
    assert output["subject"] == "[mlops] training: new model version registered"
    assert output["recorded"] is True
    assert isinstance(output["message_id"], str) and output["message_id"]
    item = stack.ledger.get_item(Key={"pk": business_key, "sk": "run"})["Item"]
    assert item["status"] == "REGISTERED"
    out = printed()
    [metric] = [m for m in out.metrics if "OutcomeRegistered" in m]
    assert (metric["OutcomeRegistered"], metric["workflow"]) == ([1.0], "training")
    assert out.correlation_ids() == {payload["execution"]["Name"]}


def test_unknown_workflow_is_rejected_naming_the_field(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("record_outcome")
    payload = sample("record_outcome", {"workflow": "retraining", "outcome": "FAILED"})
    with pytest.raises(ValidationError, match="workflow"):
        handler.lambda_handler(payload, lambda_context)
