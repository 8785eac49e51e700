"""ValidateDataset handler: the TrainingPipeline's first task.

Payload `{"event": $, "execution": $$.Execution}`: events/functions/validate_dataset.json, its
object made the version moto holds in the stack's data bucket.
"""

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
KEY = "datasets/breast_cancer.csv"
# Powertools warns when a failed invocation flushed no metric; that is the expected path here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def object_created(
    sample: Any, execution: dict[str, Any], bucket: str, obj: dict[str, str]
) -> dict[str, Any]:
    """The sample payload for `obj` (version_id, etag) of KEY in `bucket`."""
    return sample(
        "validate_dataset",
        {
            "event.resources": [f"arn:aws:s3:::{bucket}"],
            "event.detail.bucket.name": bucket,
            "event.detail.object.key": KEY,
            "event.detail.object.version-id": obj["version_id"],
            "event.detail.object.etag": obj["etag"],
            "execution": execution,
        },
    )


def test_new_dataset_returns_train_with_the_run_the_state_machine_reads(
    load_handler: Any,
    stack: Any,
    sample: Any,
    sfn_execution: Any,
    lambda_context: Any,
    asl_reads: Any,
    printed: Any,
) -> None:
    # Given the stack's defaults and a new dataset version
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    execution = sfn_execution("run-a")
    # When
    output = handler.lambda_handler(
        object_created(sample, execution, stack.data_bucket, obj), lambda_context
    )
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
    # The snapshot is in the bucket the template names (ARTIFACTS_BUCKET)
    snapshot = f"s3://{stack.artifacts_bucket}/runs/run-a/data/breast_cancer.csv"
    assert run["dataset"]["snapshot_uri"] == snapshot
    copied = stack.s3.get_object(Bucket=stack.artifacts_bucket, Key=snapshot.split("/", 3)[3])
    assert copied["Body"].read() == DATASET.read_bytes()
    assert [c["name"] for c in run["candidates"]] == ["rf", "gb", "linear"]
    assert asl_reads(output, "training_pipeline", "$.start.Payload.") >= {"action", "run"}
    # And one DatasetsTrain metric is emitted in CloudWatch embedded metric format, and the
    # log line carries the execution name as correlation id
    out = printed()
    assert [m["DatasetsTrain"] for m in out.metrics if "DatasetsTrain" in m] == [[1.0]]
    assert [line["message"] for line in out.logs] == ["dataset checked"]
    assert out.correlation_ids() == {"run-a"}


def running(sfn_execution: Any, name: str) -> dict[str, Any]:
    """`$$.Execution` of a TrainingPipeline execution that is RUNNING in moto."""
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"mlops-TrainingPipeline-{name}",
        definition='{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, '
        '"End": true}}}',
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
    return sfn_execution(name) | {"Id": arn}


def test_same_version_again_returns_skip(
    load_handler: Any, stack: Any, sample: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    first = object_created(sample, running(sfn_execution, "run-a"), stack.data_bucket, obj)
    handler.lambda_handler(first, lambda_context)
    replay = object_created(sample, sfn_execution("run-b"), stack.data_bucket, obj)
    output = handler.lambda_handler(replay, lambda_context)
    assert (output["action"], output["run"]) == ("SKIP", None)
    assert "already handled by run run-a" in output["reason"]


def test_a_replay_takes_over_the_claim_of_an_aborted_run(
    load_handler: Any, stack: Any, sample: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    aborted = running(sfn_execution, "run-a")
    handler.lambda_handler(object_created(sample, aborted, stack.data_bucket, obj), lambda_context)
    boto3.client("stepfunctions").stop_execution(executionArn=aborted["Id"])
    replay = object_created(sample, sfn_execution("run-b"), stack.data_bucket, obj)
    output = handler.lambda_handler(replay, lambda_context)
    assert output["action"] == "TRAIN" and output["run"]["run_id"] == "run-b"


def test_invalid_dataset_raises_dataset_invalid_by_class_name(
    load_handler: Any, stack: Any, sample: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, b"mean_radius,diagnosis\n1.0,0\n")
    payload = object_created(sample, sfn_execution("run-a"), stack.data_bucket, obj)
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    # Lambda reports errorType = the class name; the ASL catches that name
    assert type(excinfo.value).__name__ == "DatasetInvalid"
    assert "no label column 'malignant'" in str(excinfo.value)


def test_event_for_another_bucket_raises_event_malformed(
    load_handler: Any, stack: Any, sample: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    handler = load_handler("validate_dataset")
    obj = {"version_id": "v1", "etag": "etag"}
    payload = object_created(sample, sfn_execution("run-a"), "someone-else", obj)
    with pytest.raises(Exception) as excinfo:
        handler.lambda_handler(payload, lambda_context)
    assert type(excinfo.value).__name__ == "EventMalformed"


def test_a_forced_retrain_request_trains_as_a_new_attempt(
    load_handler: Any, stack: Any, sample: Any, sfn_execution: Any, lambda_context: Any
) -> None:
    # Given run-a trained the version from its upload
    handler = load_handler("validate_dataset")
    obj = stack.put(stack.data_bucket, KEY, DATASET.read_bytes())
    handler.lambda_handler(
        object_created(sample, sfn_execution("run-a"), stack.data_bucket, obj), lambda_context
    )
    # When a forced retrain of that version starts run-b (its execution input is the request)
    dataset = {"bucket": stack.data_bucket, "key": KEY, "version_id": obj["version_id"]}
    request = {"retrain": {"dataset": dataset, "reason": "labels fixed", "requested_by": "alice",
               "force": True, "request_id": "req-1"}}  # fmt: skip
    execution = sfn_execution("run-b") | {"Input": request}
    output = handler.lambda_handler({"event": request, "execution": execution}, lambda_context)
    # Then
    assert (output["action"], output["reason"]) == ("TRAIN", "retrain requested")
    assert output["run"]["trigger"]["attempt"] == 2
    assert output["run"]["ledger_key"].endswith(f"#{obj['version_id']}#attempt#2")
