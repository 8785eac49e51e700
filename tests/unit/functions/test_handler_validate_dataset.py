"""ValidateDataset handler: the TrainingPipeline's first task.

Payload `{"event": $, "execution": $$.Execution}`.
"""

import json
from pathlib import Path
from typing import Any

import pytest

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
KEY = "datasets/breast_cancer.csv"
# Powertools warns when a failed invocation flushed no metric; that is the expected path here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def object_created(bucket: str, key: str, version_id: str, etag: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 120384,
                "etag": etag,
                "version-id": version_id,
                "sequencer": "0066A8D0E77DE42BC5",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def test_new_dataset_returns_train_with_the_run_the_state_machine_reads(
    load_handler: Any,
    stack: Any,
    sfn_execution: Any,
    lambda_context: Any,
    asl_reads: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the stack's defaults and a new dataset version
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    execution = sfn_execution("run-a")
    payload = {
        "event": object_created(stack.data_bucket, KEY, obj["version_id"], obj["etag"]),
        "execution": execution,
    }
    # When
    output = handler.lambda_handler(payload, lambda_context)
    # Then the output is plain JSON with the run context
    assert json.loads(json.dumps(output)) == output
    assert (output["action"], output["reason"]) == ("TRAIN", "new dataset version")
    run = output["run"]
    assert (run["run_id"], run["execution_arn"], run["champion"]) == (
        "run-a",
        execution["Id"],
        None,
    )
    assert run["dataset"]["version_id"] == obj["version_id"]
    assert (run["dataset"]["rows"], run["dataset"]["features"]) == (569, 30)
    assert [c["name"] for c in run["candidates"]] == ["rf", "gb", "logreg"]
    assert asl_reads(output, "training_pipeline", "$.start.Payload.") >= {"action", "run"}
    # And one DatasetsTrain metric is emitted in CloudWatch embedded metric format
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["DatasetsTrain"] for m in emf if "DatasetsTrain" in m] == [[1.0]]


def test_same_version_again_returns_skip(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    event = object_created(stack.data_bucket, KEY, obj["version_id"], obj["etag"])
    handler.lambda_handler({"event": event, "execution": sfn_execution("run-a")}, lambda_context)
    output = handler.lambda_handler(
        {"event": event, "execution": sfn_execution("run-b")}, lambda_context
    )
    assert (output["action"], output["run"]) == ("SKIP", None)
    assert "already handled by run run-a" in output["reason"]


def test_invalid_dataset_raises_dataset_invalid_by_class_name(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, b"mean_radius,diagnosis\n1.0,0\n")
    event = object_created(stack.data_bucket, KEY, obj["version_id"], obj["etag"])
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(
            {"event": event, "execution": sfn_execution("run-a")}, lambda_context
        )
    # Lambda reports errorType = the class name; the ASL catches that name
    assert type(excinfo.value).__name__ == "DatasetInvalid"
    assert "no label column 'malignant'" in str(excinfo.value)


def test_event_for_another_bucket_raises_event_malformed(
    load_handler: Any, stack: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    event = object_created("someone-else", KEY, "v1", "etag")
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(
            {"event": event, "execution": sfn_execution("run-a")}, lambda_context
        )
    assert type(excinfo.value).__name__ == "EventMalformed"
