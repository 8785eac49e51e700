"""RecordOutcome handler: `{"workflow", "outcome", "execution": $$.Execution, "state": $}`."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

RUN = {
    "run_id": "run-a",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:train:run-a",
    "dataset": {
        "bucket": "mlops-data",
        "key": "datasets/bc.csv",
        "version_id": "v1",
        "etag": "e",
        "size": 120384,
        "rows": 569,
        "features": 30,
        "label": "malignant",
    },
    "candidates": [],
    "champion": None,
}


def test_outcome_is_published_recorded_and_counted(
    load_handler: Any,
    stack: Any,
    sfn_execution: Any,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the training state after RegisterModel, and run-a holding its dataset version
    handler = load_handler("record_outcome")
    business_key = "dataset#s3://mlops-data/datasets/bc.csv#v1"
    stack.dynamodb.Table("mlops-ledger").put_item(
        Item={"pk": business_key, "sk": "run", "run_id": "run-a", "status": "RUNNING"}
    )
    state = {
        "start": {"Payload": {"action": "TRAIN", "reason": "new", "run": RUN}},
        "registration": {"Payload": {"model_package_arn": "arn:pkg/1", "version": 1}},
    }
    payload = {
        "workflow": "training",
        "outcome": "REGISTERED",
        "execution": sfn_execution("run-a"),
        "state": state,
    }
    # When
    output = handler.lambda_handler(payload, lambda_context)
    # Then
    assert json.loads(json.dumps(output)) == output
    assert output["subject"] == "[mlops] training: new model version registered"
    assert output["recorded"] is True
    assert isinstance(output["message_id"], str) and output["message_id"]
    item = stack.dynamodb.Table("mlops-ledger").get_item(Key={"pk": business_key, "sk": "run"})[
        "Item"
    ]
    assert item["status"] == "REGISTERED"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [metric] = [m for m in emf if "OutcomeRegistered" in m]
    assert (metric["OutcomeRegistered"], metric["workflow"]) == ([1.0], "training")


def test_unknown_workflow_is_rejected_naming_the_field(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("record_outcome")
    payload = {
        "workflow": "retraining",
        "outcome": "FAILED",
        "execution": sfn_execution("run-a"),
        "state": {},
    }
    with pytest.raises(ValidationError, match="workflow"):
        handler.lambda_handler(payload, lambda_context)
