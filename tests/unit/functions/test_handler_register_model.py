"""RegisterModel handler: `{"run": $.start.Payload.run, "selection": $.selection.Payload}`."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

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
SELECTION = {
    "best": {
        "status": "EVALUATED",
        "candidate": {"name": "rf", "algorithm": "random_forest"},
        "training_job_name": "mlops-x-rf-train",
        "model_data_url": "s3://mlops-artifacts/runs/run-a/models/rf/output/model.tar.gz",
        "report_uri": "s3://mlops-artifacts/runs/run-a/evaluation/rf/evaluation.json",
    },
    "metrics": {"f1": 0.97},
    "quality_report_uri": "s3://mlops-artifacts/runs/run-a/evaluation/rf/model_quality.json",
    "gate": {
        "metric": "f1",
        "score": 0.97,
        "floor": 0.9,
        "margin": 0.005,
        "champion_score": None,
        "to_beat": None,
    },
}


@pytest.mark.parametrize(
    ("auto_approve", "status"), [("false", "PendingManualApproval"), ("true", "Approved")]
)
def test_registration_returns_the_package_and_its_status(
    load_handler: Any, stack: Any, lambda_context: Any, auto_approve: str, status: str
) -> None:
    handler = load_handler("register_model", AUTO_APPROVE=auto_approve)
    output = handler.lambda_handler({"run": RUN, "selection": SELECTION}, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"model_package_arn", "version", "approval_status"}
    assert (output["version"], output["approval_status"]) == (1, status)
    package = stack.sagemaker.describe_model_package(ModelPackageName=output["model_package_arn"])
    assert package["ModelPackageGroupName"] == stack.group
    assert package["CustomerMetadataProperties"]["code_version"] == "v7"


def test_selection_without_gate_is_rejected_naming_the_field(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("register_model")
    selection = {k: v for k, v in SELECTION.items() if k != "gate"}
    with pytest.raises(ValidationError, match="selection.gate"):
        handler.lambda_handler({"run": RUN, "selection": selection}, lambda_context)
