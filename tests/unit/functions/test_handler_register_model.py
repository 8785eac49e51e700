"""RegisterModel handler: `{"run": $.start.Payload.run, "selection": $.selection.Payload}`.

Payload: events/functions/register_model.json (gb beat the champion v2).
"""

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
MODEL_KEY = "runs/r/models/mlops-0123456789-gb-train/output/model.tar.gz"
MODEL, CODE = b"the trained model", b"code version v7"
SCHEMA = b'{"features": [{"name": "mean_radius", "type": "float64"}], "label": "malignant"}'


def trained(stack: Any, sample: Any) -> dict[str, Any]:
    """The sample payload, its winner's model and the stack's code version in S3 as training
    left them (RegisterModel records their SHA-256)."""
    stack.put_uri(f"s3://{stack.artifacts_bucket}/{MODEL_KEY}", MODEL)
    stack.put_uri(stack.code_uri, CODE)
    model_data_url = f"s3://{stack.artifacts_bucket}/{MODEL_KEY}"
    evaluation = f"s3://{stack.artifacts_bucket}/runs/r/evaluation/gb"
    stack.put_uri(f"{evaluation}/feature_schema.json", SCHEMA)
    # No champion: the sample's v2 does not exist in this registry (see the next test)
    return sample(
        "register_model",
        {
            "selection.best.model_data_url": model_data_url,
            "selection.quality_report_uri": f"{evaluation}/model_quality.json",
            "selection.best.champion": None,
            "run.champion": None,
        },
    )


def test_a_champion_changed_since_evaluation_raises_champion_changed_by_class_name(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("register_model")
    scored_v2 = sample("register_model")
    payload = trained(stack, sample)
    payload["selection"]["best"]["champion"] = scored_v2["selection"]["best"]["champion"]
    with pytest.raises(Exception) as raised:
        handler.lambda_handler(payload, lambda_context)
    assert type(raised.value).__name__ == "ChampionChanged"
    assert str(raised.value).endswith("the champion is now none")
    listed = stack.sagemaker.list_model_packages(ModelPackageGroupName=stack.group)
    assert listed["ModelPackageSummaryList"] == []


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
    payload = trained(stack, sample)
    output = handler.lambda_handler(payload, lambda_context)
    assert json.loads(json.dumps(output)) == output
    assert set(output) == {"model_package_arn", "version", "approval_status"}
    assert (output["version"], output["approval_status"]) == (1, status)
    package = stack.sagemaker.describe_model_package(ModelPackageName=output["model_package_arn"])
    assert package["ModelPackageGroupName"] == stack.group
    assert package["CustomerMetadataProperties"]["code_version"] == "v7"
    lineage = package["CustomerMetadataProperties"]
    assert lineage["execution_arn"] == payload["run"]["execution_arn"]
    assert (lineage["model_sha256"], lineage["code_sha256"]) == (
        hashlib.sha256(MODEL).hexdigest(),
        hashlib.sha256(CODE).hexdigest(),
    )
    assert lineage["feature_schema_sha256"] == hashlib.sha256(SCHEMA).hexdigest()
    assert printed().correlation_ids() == {payload["run"]["run_id"]}


def test_a_missing_model_artifact_raises_model_provenance_invalid_by_class_name(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("register_model")
    payload = trained(stack, sample)
    stack.s3.delete_object(Bucket=stack.artifacts_bucket, Key=MODEL_KEY)
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    assert type(excinfo.value).__name__ == "ModelProvenanceInvalid"
    assert (
        stack.sagemaker.list_model_packages(ModelPackageGroupName=stack.group)[
            "ModelPackageSummaryList"
        ]
        == []
    )


def test_selection_without_gate_is_rejected_naming_the_field(
    load_handler: Any, stack: Any, sample: Any, lambda_context: Any
) -> None:
    handler = load_handler("register_model")
    payload = sample("register_model")
    del payload["selection"]["gate"]
    with pytest.raises(ValidationError, match="selection.gate"):
        handler.lambda_handler(payload, lambda_context)
