"""PrepareCandidate handler: one Map item, `{"run": ..., "candidate": $$.Map.Item.Value}`."""

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
    "candidates": [
        {
            "name": "rf",
            "algorithm": "random_forest",
            "hyperparameters": {"n_estimators": 100, "max_depth": 6},
        }
    ],
    "champion": None,
}


def test_plan_has_every_field_the_map_branch_reads(
    load_handler: Any, lambda_context: Any, asl_reads: Any
) -> None:
    handler = load_handler("prepare_candidate")
    output = handler.lambda_handler({"run": RUN, "candidate": RUN["candidates"][0]}, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"candidate", "training", "evaluation", "model_data_url", "report_uri"}
    # TrainCandidate / EvaluateCandidate pass these on to SageMaker
    training_paths = asl_reads(output["training"], "training_pipeline", "$.training.")
    evaluation_paths = asl_reads(output["evaluation"], "training_pipeline", "$.evaluation.")
    assert set(output["training"]) == training_paths
    assert set(output["evaluation"]) == evaluation_paths
    assert output["report_uri"] == "s3://mlops-artifacts/runs/run-a/evaluation/rf/evaluation.json"
    assert output["training"]["RoleArn"] == "arn:aws:iam::123456789012:role/mlops-sagemaker"
    assert output["training"]["HyperParameters"]["sagemaker_submit_directory"] == (
        '"s3://mlops-artifacts/code/v7/sourcedir.tar.gz"'
    )


def test_candidate_breaking_the_slug_rule_is_rejected_naming_the_field(
    load_handler: Any, lambda_context: Any
) -> None:
    handler = load_handler("prepare_candidate")
    candidate = {"name": "Random Forest", "algorithm": "random_forest"}
    with pytest.raises(ValidationError) as excinfo:
        handler.lambda_handler({"run": RUN, "candidate": candidate}, lambda_context)
    assert "candidate.name" in str(excinfo.value)
