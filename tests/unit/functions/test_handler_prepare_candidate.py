"""PrepareCandidate handler: one Map item, `{"run": ..., "candidate": $$.Map.Item.Value}`.

Payload: events/functions/prepare_candidate.json, the run renamed run-a.
"""

import json
from typing import Any

import pytest
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_plan_has_every_field_the_map_branch_reads(
    load_handler: Any, sample: Any, lambda_context: Any, asl_reads: Any, printed: Any
) -> None:
    handler = load_handler("prepare_candidate")
    output = handler.lambda_handler(
        sample("prepare_candidate", {"run.run_id": "run-a"}), lambda_context
    )
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {
        "candidate", "training", "evaluation", "model_data_url", "report_uri", "champion"
    }  # fmt: skip
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
    # The run id is the TrainingPipeline's execution name: the correlation id
    assert printed().correlation_ids() == {"run-a"}


def test_candidate_breaking_the_slug_rule_is_rejected_naming_the_field(
    load_handler: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("prepare_candidate")
    candidate = {"name": "Random Forest", "algorithm": "random_forest"}
    with pytest.raises(ValidationError) as excinfo:
        handler.lambda_handler(
            sample("prepare_candidate", {"candidate": candidate}), lambda_context
        )
    assert "candidate.name" in str(excinfo.value)
