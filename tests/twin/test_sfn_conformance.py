"""Conformance of the twin's Step Functions (moto 5.2.5's interpreter + mlops/twin/stepfunctions).

Every test runs real state machines on a threaded moto server (server mode, as the twin does:
the interpreter calls SageMaker/Lambda over HTTP at MOTO_PORT) and asserts what the AWS
documentation says, citing the page. Contract tests at the end pin each moto internal the seams
patch, so a moto upgrade that moves one fails here with a clear message.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend
from moto.core.config import default_user_config
from moto.core.exceptions import AWSError, JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from mlops.twin.stepfunctions import sagemaker_tasks
from mlops.twin.stepfunctions.patches import StepFunctionsSeam, iso_timestamps_in_place

if TYPE_CHECKING:
    from conftest import MotoServer

pytestmark = pytest.mark.twin

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StatesExecutionRole"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_MILLIS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EXECUTION_TIMEOUT_SECONDS = 60


@dataclass
class Cloud:
    moto: MotoServer
    sfn: Any = field(init=False)
    sagemaker: Any = field(init=False)

    def __post_init__(self) -> None:
        self.sfn = self.client("stepfunctions")
        self.sagemaker = self.client("sagemaker")

    def client(self, service: str) -> Any:
        return self.moto.client(service)


@pytest.fixture(scope="module")
def sfn_seam() -> Iterator[StepFunctionsSeam]:
    with StepFunctionsSeam() as seam:
        yield seam


@pytest.fixture(scope="module")
def cloud(sfn_seam: StepFunctionsSeam, moto_server: MotoServer) -> Iterator[Cloud]:
    with pytest.MonkeyPatch.context() as env:
        # The interpreter's boto clients call http://localhost:$MOTO_PORT.
        env.setenv("MOTO_PORT", str(moto_server.port))
        env.setenv(sagemaker_tasks.SYNC_POLL_SECONDS_ENV, "0.05")
        yield Cloud(moto_server)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create(cloud: Cloud, definition: dict[str, Any]) -> str:
    return cloud.sfn.create_state_machine(
        name=unique("sm"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def wait_for_end(cloud: Cloud, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
    while (execution := cloud.sfn.describe_execution(executionArn=execution_arn))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.05)  # polling for completion, not asserting on time
    return execution


def run(
    cloud: Cloud, definition: dict[str, Any], state_input: Any = None, name: str | None = None
) -> dict[str, Any]:
    arn = create(cloud, definition)
    named = {"name": name} if name else {}
    started = cloud.sfn.start_execution(
        stateMachineArn=arn, input=json.dumps(state_input or {}), **named
    )
    return wait_for_end(cloud, started["executionArn"])


def output_of(execution: dict[str, Any]) -> Any:
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    return json.loads(execution["output"])


def single(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}


def event_types(cloud: Cloud, execution: dict[str, Any]) -> list[str]:
    history = cloud.sfn.get_execution_history(executionArn=execution["executionArn"])
    return [event["type"] for event in history["events"]]


# -- JSONPath: definite paths yield one value ---------------------------------------------------
# docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html: a reference
# path identifies a single node; JsonPath follows Jayway, where a path without wildcards,
# slices or filters is definite (one value) and the others return arrays.

ITEMS = {"items": [{"name": "a"}, {"name": "b"}], "out": [{"v": 3}]}


def test_parameters_path_with_index_then_field_yields_the_value(cloud: Cloud) -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"x.$": "$.items[1].name", "y.$": "$.out[0].v", "first.$": "$.items[0]"},
    }
    assert output_of(run(cloud, single(state), ITEMS)) == {"x": "b", "y": 3, "first": {"name": "a"}}


def test_indefinite_paths_yield_lists(cloud: Cloud) -> None:
    state = {
        "Type": "Pass",
        "Parameters": {
            "filtered.$": "$.items[?(@.name == 'b')].name",
            "wildcard.$": "$.items[*].name",
            "sliced.$": "$.items[0:1].name",
            "none.$": "$.items[?(@.name == 'z')].name",
        },
    }
    assert output_of(run(cloud, single(state), ITEMS)) == {
        "filtered": ["b"],
        "wildcard": ["a", "b"],
        "sliced": ["a"],
        "none": [],
    }


def test_result_selector_path_with_index_then_field_yields_the_value(cloud: Cloud) -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": {"v": 7}, "End": True}}}
    state = {"Type": "Parallel", "Branches": [branch], "ResultSelector": {"v.$": "$[0].v"}}
    assert output_of(run(cloud, single(state))) == {"v": 7}


def test_input_and_output_paths_with_index_then_field_yield_the_value(cloud: Cloud) -> None:
    input_path = single({"Type": "Pass", "InputPath": "$.items[1].name"})
    output_path = single({"Type": "Pass", "OutputPath": "$.out[0].v"})
    assert output_of(run(cloud, input_path, ITEMS)) == "b"
    assert output_of(run(cloud, output_path, ITEMS)) == 3


@pytest.mark.parametrize(("v", "expected"), [(3, "match"), (4, "default")])
def test_choice_variable_with_index_then_field_compares_the_value(
    cloud: Cloud, v: int, expected: str
) -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.out[0].v", "NumericEquals": 3, "Next": "match"}],
                "Default": "default",
            },
            "match": {"Type": "Pass", "Result": "match", "End": True},
            "default": {"Type": "Pass", "Result": "default", "End": True},
        },
    }
    assert output_of(run(cloud, definition, {"out": [{"v": v}]})) == expected


# -- StartExecution without a name ------------------------------------------------------------
# docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html: "If you don't
# provide a name for the execution, Step Functions automatically generates a universally unique
# identifier (UUID) as the execution name."


def test_unnamed_executions_get_distinct_uuid_names(cloud: Cloud) -> None:
    arn = create(cloud, single({"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}}))
    first, second = (cloud.sfn.start_execution(stateMachineArn=arn) for _ in range(2))
    names = []
    for started in (first, second):
        execution = wait_for_end(cloud, started["executionArn"])
        assert UUID.match(execution["name"]), execution["name"]
        assert (
            started["executionArn"]
            == f"{arn.replace(':stateMachine:', ':execution:')}:" + (execution["name"])
        )
        assert output_of(execution) == {"name": execution["name"]}
        names.append(execution["name"])
    assert names[0] != names[1]


# -- Context object ---------------------------------------------------------------------------
# docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html


def test_context_object_has_execution_name_and_id(cloud: Cloud) -> None:
    state = {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name", "i.$": "$$.Execution.Id"}}
    execution = run(cloud, single(state), name="run-42")
    assert output_of(execution) == {"n": "run-42", "i": execution["executionArn"]}


# -- Intrinsics, Choice, Fail, Wait, Map --------------------------------------------------------


def test_pass_parameters_intrinsics_string_to_json_and_format(cloud: Cloud) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
    state = {
        "Type": "Pass",
        "Parameters": {
            "n.$": "States.StringToJson('5')",
            "job.$": "States.Format('train-{}-{}', $.model, $$.Execution.Name)",
        },
    }
    execution = run(cloud, single(state), {"model": "rf"}, name="e1")
    assert output_of(execution) == {"n": 5, "job": "train-rf-e1"}


PROMOTE_CHOICE = {
    "StartAt": "C",
    "States": {
        "C": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.f1", "NumericGreaterThanEqualsPath": "$.threshold"},
                        {"Variable": "$.status", "StringEquals": "ok"},
                        {"Variable": "$.champion", "IsPresent": True},
                    ],
                    "Next": "promote",
                }
            ],
            "Default": "reject",
        },
        "promote": {"Type": "Pass", "Result": "promote", "End": True},
        "reject": {"Type": "Pass", "Result": "reject", "End": True},
    },
}


@pytest.mark.parametrize(
    ("state_input", "expected"),
    [
        ({"f1": 0.9, "threshold": 0.9, "status": "ok", "champion": None}, "promote"),
        ({"f1": 0.8, "threshold": 0.9, "status": "ok", "champion": None}, "reject"),
        ({"f1": 0.9, "threshold": 0.9, "status": "bad", "champion": None}, "reject"),
        ({"f1": 0.9, "threshold": 0.9, "status": "ok"}, "reject"),
    ],
)
def test_choice_and_of_numeric_path_string_and_is_present(
    cloud: Cloud, state_input: dict[str, Any], expected: str
) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-choice-state.html
    # (IsPresent is true for a field whose value is null).
    assert output_of(run(cloud, PROMOTE_CHOICE, state_input)) == expected


def test_fail_state_error_path_and_cause_path(cloud: Cloud) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/state-fail.html: ErrorPath/CausePath
    definition = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}},
    }
    execution = run(cloud, definition, {"e": "ModelRejected", "c": "f1 below threshold"})
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "ModelRejected",
        "f1 below threshold",
    )


def test_wait_seconds_path_reads_the_input(cloud: Cloud) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/state-wait.html: SecondsPath must resolve to
    # an integer; anything else is a States.Runtime error.
    wait = single({"Type": "Wait", "SecondsPath": "$.seconds"})
    waited = run(cloud, wait, {"seconds": 1})
    assert output_of(waited) == {"seconds": 1}
    assert {"WaitStateEntered", "WaitStateExited"} <= set(event_types(cloud, waited))
    invalid = run(cloud, wait, {"seconds": "soon"})
    assert (invalid["status"], invalid["error"]) == ("FAILED", "States.Runtime")


def test_map_runs_iterations_in_parallel_with_item_selector(cloud: Cloud) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html: MaxConcurrency bounds
    # how many iterations run in parallel; ItemSelector builds each iteration's input.
    state = {
        "Type": "Map",
        "ItemsPath": "$.candidates",
        "MaxConcurrency": 3,
        "ItemSelector": {
            "algorithm.$": "$$.Map.Item.Value",
            "index.$": "$$.Map.Item.Index",
            "run.$": "$.run",
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Train",
            "States": {"Train": {"Type": "Wait", "Seconds": 1, "End": True}},
        },
    }
    execution = run(cloud, single(state), {"candidates": ["rf", "gb", "lr"], "run": "r1"})
    assert output_of(execution) == [
        {"algorithm": "rf", "index": 0, "run": "r1"},
        {"algorithm": "gb", "index": 1, "run": "r1"},
        {"algorithm": "lr", "index": 2, "run": "r1"},
    ]
    types = event_types(cloud, execution)
    started = [i for i, t in enumerate(types) if t == "MapIterationStarted"]
    finished = [i for i, t in enumerate(types) if t == "MapIterationSucceeded"]
    assert len(started) == 3 and max(started) < min(finished), types  # all 3 were in flight


# -- Lambda errors, Retry and Catch -------------------------------------------------------------


@dataclass
class FakeLambda:
    """Stands in for function code behind moto's Invoke API (the wire contract is what counts)."""

    outcomes: list[Callable[[dict[str, str]], bytes]]
    payloads: list[Any] = field(default_factory=list)

    def invoke(self, body: Any, response_headers: dict[str, str]) -> bytes:
        self.payloads.append(json.loads(body or b"{}"))
        outcome = self.outcomes[min(len(self.payloads), len(self.outcomes)) - 1]
        return outcome(response_headers)


def returns(result: Any) -> Callable[[dict[str, str]], bytes]:
    return lambda _headers: json.dumps(result).encode()


def raises_unhandled(error: dict[str, Any]) -> Callable[[dict[str, str]], bytes]:
    def outcome(headers: dict[str, str]) -> bytes:
        headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(error).encode()

    return outcome


def service_exception(_headers: dict[str, str]) -> bytes:
    error = JsonRESTError("ServiceException", "Lambda was unable to run the function")
    error.code = 500
    raise error


DATASET_INVALID = {
    "errorType": "DatasetInvalid",
    "errorMessage": "label column 'malignant' missing",
    "stackTrace": ['  File "/var/task/app.py", line 1'],
}
LAMBDA_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 2,
    "BackoffRate": 1,
}


def invoke_state(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "validate-dataset", "Payload.$": "$"},
        **extra,
    }


def use_lambda(
    monkeypatch: pytest.MonkeyPatch, *outcomes: Callable[[dict[str, str]], bytes]
) -> FakeLambda:
    fake = FakeLambda(list(outcomes))

    def invoke(
        _backend: Any, _name: str, _qualifier: Any, body: Any, _headers: Any, response_headers: Any
    ) -> bytes:
        return fake.invoke(body, response_headers)

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    return fake


def test_lambda_function_error_surfaces_error_type_with_payload_as_cause(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html: a Lambda
    # function error is reported under its errorType; the cause is the function's error payload
    # (JSON with errorMessage, errorType, stackTrace) - not the bare errorMessage.
    # A function error is not a Lambda service exception, so the Lambda.* retrier skips it.
    fake = use_lambda(monkeypatch, raises_unhandled(DATASET_INVALID))
    execution = run(cloud, single(invoke_state(Retry=[LAMBDA_RETRY])), {"dataset": "s3://d"})
    assert (execution["status"], execution["error"]) == ("FAILED", "DatasetInvalid")
    assert json.loads(execution["cause"]) == DATASET_INVALID
    assert fake.payloads == [{"dataset": "s3://d"}]


def test_catch_with_result_path_adds_error_and_cause_to_the_input(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html
    # ("Use ResultPath to include both error and input in a Catch")
    use_lambda(monkeypatch, raises_unhandled(DATASET_INVALID))
    catch = [{"ErrorEquals": ["DatasetInvalid"], "ResultPath": "$.error", "Next": "Rejected"}]
    definition = {
        "StartAt": "Validate",
        "States": {
            "Validate": {**invoke_state(Catch=catch), "End": True},
            "Rejected": {"Type": "Pass", "End": True},
        },
    }
    result = output_of(run(cloud, definition, {"dataset": "s3://d"}))
    assert set(result) == {"dataset", "error"} and set(result["error"]) == {"Error", "Cause"}
    assert result["dataset"] == "s3://d" and result["error"]["Error"] == "DatasetInvalid"
    assert json.loads(result["error"]["Cause"]) == DATASET_INVALID


def test_lambda_service_exception_is_retried(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
    fake = use_lambda(monkeypatch, service_exception, returns({"valid": True}))
    execution = run(cloud, single(invoke_state(Retry=[LAMBDA_RETRY], OutputPath="$.Payload")))
    assert output_of(execution) == {"valid": True}
    assert len(fake.payloads) == 2


# -- SageMaker optimized integration ------------------------------------------------------------
# docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html


def training_parameters(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": SAGEMAKER_ROLE,
        "AlgorithmSpecification": {"TrainingImage": "sklearn:1.2-1", "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": "train.py"},
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def processing_parameters(name: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": SAGEMAKER_ROLE,
        "AppSpecification": {"ImageUri": "sklearn:1.2-1"},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
    }


def sagemaker_task(action: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:states:::sagemaker:{action}",
        "Parameters": parameters,
        **extra,
    }


def set_status_on_create(
    monkeypatch: pytest.MonkeyPatch, kind: str, status: str, reason: str | None = None
) -> None:
    """moto finishes jobs at creation; give the job the status a real run would reach."""
    create_job = getattr(SageMakerModelBackend, f"create_{kind}_job")

    def create_with_status(backend: Any, *args: Any, **kwargs: Any) -> Any:
        job = create_job(backend, *args, **kwargs)
        setattr(job, f"{kind}_job_status", status)
        if reason is not None:
            job.failure_reason = reason
        return job

    monkeypatch.setattr(SageMakerModelBackend, f"create_{kind}_job", create_with_status)


def chain(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A definition running the named states one after the other."""
    names = [name for name, _ in states]
    body = {
        name: {**state, **({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})}
        for i, (name, state) in enumerate(states)
    }
    return {"StartAt": names[0], "States": body}


def test_sagemaker_request_response_returns_the_api_response(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto 5.2.5 has no UpdateEndpoint (the twin's hosting seam provides it); a stand-in
    # response lets this test check what the integration sends and returns.
    updates: list[dict[str, Any]] = []

    def update_endpoint(response: SageMakerResponse) -> str:
        updates.append(json.loads(response.body))
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{updates[-1]['EndpointName']}"
        return json.dumps({"EndpointArn": arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    model, config, endpoint = unique("model"), unique("config"), unique("endpoint")
    container = {"Image": "sklearn:1.2-1", "ModelDataUrl": "s3://artifacts/model.tar.gz"}
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    calls = {
        "createModel": {
            "ModelName": model,
            "ExecutionRoleArn": SAGEMAKER_ROLE,
            "PrimaryContainer": container,
        },
        "createEndpointConfig": {"EndpointConfigName": config, "ProductionVariants": [variant]},
        "createEndpoint": {"EndpointName": endpoint, "EndpointConfigName": config},
        "updateEndpoint": {"EndpointName": endpoint, "EndpointConfigName": config},
    }
    definition = chain(
        *(
            (action, sagemaker_task(action, parameters, ResultPath=f"$.{action}"))
            for action, parameters in calls.items()
        )
    )
    result = output_of(run(cloud, definition))
    prefix = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    assert result == {
        "createModel": {"ModelArn": f"{prefix}:model/{model}"},
        "createEndpointConfig": {"EndpointConfigArn": f"{prefix}:endpoint-config/{config}"},
        "createEndpoint": {"EndpointArn": f"{prefix}:endpoint/{endpoint}"},
        "updateEndpoint": {"EndpointArn": f"{prefix}:endpoint/{endpoint}"},
    }
    assert updates == [calls["updateEndpoint"]]
    described = cloud.sagemaker.describe_model(ModelName=model)
    assert described["PrimaryContainer"]["ModelDataUrl"] == container["ModelDataUrl"]


def test_sagemaker_api_error_is_amazon_sagemaker_exception(cloud: Cloud) -> None:
    # Unmodeled SageMaker errors (ValidationException here) surface as the SDK base exception;
    # the doc's own Retry example matches "SageMaker.AmazonSageMakerException".
    state = sagemaker_task(
        "createEndpoint", {"EndpointName": unique("e"), "EndpointConfigName": "missing"}
    )
    execution = run(cloud, single(state))
    assert (execution["status"], execution["error"]) == (
        "FAILED",
        "SageMaker.AmazonSageMakerException",
    )
    assert re.fullmatch(
        r".+ \(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; "
        r"Request ID: \S*; Proxy: null\)",
        execution["cause"],
    ), execution["cause"]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("ResourceInUse", "SageMaker.ResourceInUseException"),
        ("ResourceNotFound", "SageMaker.ResourceNotFoundException"),
        ("ValidationException", "SageMaker.AmazonSageMakerException"),
        ("ThrottlingException", "SageMaker.AmazonSageMakerException"),
    ],
)
def test_sagemaker_error_names_follow_the_java_sdk_exception_classes(code: str, error: str) -> None:
    # The doc's Retry example matches "SageMaker.ResourceLimitExceededException" (error code
    # ResourceLimitExceeded) and "SageMaker.AmazonSageMakerException".
    assert sagemaker_tasks.error_name_for(code) == error


def test_sagemaker_training_sync_polls_until_completed_and_returns_describe(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_status_on_create(monkeypatch, "training", "InProgress")
    describe = SageMakerModelBackend.describe_training_job
    polls: list[str] = []

    def describe_then_complete(backend: Any, name: str) -> dict[str, Any]:
        polls.append(name)
        if len(polls) == 3:  # the job finishes while the task is polling
            backend.training_jobs[name].training_job_status = "Completed"
        return describe(backend, name)

    monkeypatch.setattr(SageMakerModelBackend, "describe_training_job", describe_then_complete)
    name = unique("train")
    result = output_of(
        run(cloud, single(sagemaker_task("createTrainingJob.sync", training_parameters(name))))
    )
    assert polls == [name, name, name]
    assert result["TrainingJobStatus"] == "Completed" and result["TrainingJobName"] == name
    assert result["ModelArtifacts"] == {
        "S3ModelArtifacts": f"s3://artifacts/models/{name}/output/model.tar.gz"
    }
    assert "ResponseMetadata" not in result
    job = cloud.sagemaker.describe_training_job(TrainingJobName=name)
    assert result["CreationTime"] == int(job["CreationTime"].timestamp() * 1000)  # epoch ms


def test_sagemaker_training_sync_failed_job_fails_the_task_with_describe_as_cause(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "AlgorithmError: ExecuteUserScriptError: exit code 1"
    set_status_on_create(monkeypatch, "training", "Failed", reason)
    catch = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}]
    name = unique("train")
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                **sagemaker_task("createTrainingJob.sync", training_parameters(name), Catch=catch),
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }
    error = output_of(run(cloud, definition))["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert (cause["TrainingJobName"], cause["TrainingJobStatus"], cause["FailureReason"]) == (
        name,
        "Failed",
        reason,
    )


def test_sagemaker_processing_sync_stopped_job_fails_the_task(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_status_on_create(monkeypatch, "processing", "Stopped")
    execution = run(
        cloud,
        single(sagemaker_task("createProcessingJob.sync", processing_parameters(unique("eval")))),
    )
    assert (execution["status"], execution["error"]) == ("FAILED", "States.TaskFailed")
    assert json.loads(execution["cause"])["ProcessingJobStatus"] == "Stopped"


def test_sagemaker_processing_sync_returns_the_completed_describe(cloud: Cloud) -> None:
    name = unique("eval")
    result = output_of(
        run(cloud, single(sagemaker_task("createProcessingJob.sync", processing_parameters(name))))
    )
    assert (result["ProcessingJobName"], result["ProcessingJobStatus"]) == (name, "Completed")


def test_sagemaker_sync_task_timeout_is_states_timeout_and_stops_the_job(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-task-state.html:
    # TimeoutSeconds exceeded -> States.Timeout. The .sync IAM policies (sagemaker-iam.html)
    # grant Stop*Job because Step Functions stops a job whose task it abandons.
    set_status_on_create(monkeypatch, "processing", "InProgress")
    name = unique("eval")
    task = sagemaker_task("createProcessingJob.sync", processing_parameters(name), TimeoutSeconds=1)
    execution = run(cloud, single(task))
    assert (execution["status"], execution["error"]) == ("FAILED", "States.Timeout")
    deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
    while (status := cloud.sagemaker.describe_processing_job(ProcessingJobName=name))[
        "ProcessingJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline, "the abandoned job was never stopped"
        time.sleep(0.05)  # the abandoned poller stops the job on its next turn
    assert status["ProcessingJobStatus"] == "Stopped"


@pytest.mark.parametrize(
    ("resource", "parameters"),
    [
        ("deleteEndpoint", {"EndpointName": "e"}),
        ("deleteEndpointConfig", {"EndpointConfigName": "c"}),
        ("deleteModel", {"ModelName": "m"}),
        ("stopTrainingJob", {"TrainingJobName": "t"}),
        ("createModel.sync", {"ModelName": "m"}),
        ("createTrainingJob.waitForTaskToken", {"TrainingJobName": "t"}),
        ("createModel", {"ModelNam": "typo"}),
    ],
)
def test_sagemaker_resources_aws_does_not_offer_are_rejected_at_creation(
    cloud: Cloud, resource: str, parameters: dict[str, Any]
) -> None:
    # Only the listed optimized APIs exist, .sync only for jobs, no .waitForTaskToken; AWS
    # rejects anything else (and unknown Parameters fields) in CreateStateMachine.
    with pytest.raises(ClientError) as rejected:
        create(cloud, single(sagemaker_task(resource, parameters)))
    assert rejected.value.response["Error"]["Code"] == "InvalidDefinition"


# -- aws-sdk integration ------------------------------------------------------------------------
# docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html: results keep the
# service API's field names (PascalCase for SageMaker); timestamps are ISO-8601 strings.


def test_aws_sdk_sagemaker_describe_and_delete_endpoint(cloud: Cloud) -> None:
    model, config, endpoint = unique("model"), unique("config"), unique("endpoint")
    cloud.sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={"Image": "sklearn:1.2-1"},
    )
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    cloud.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    sdk = "arn:aws:states:::aws-sdk:sagemaker:"
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": f"{sdk}describeEndpoint",
                "Parameters": {"EndpointName": endpoint},
                "ResultPath": "$.described",
                "Next": "Delete",
            },
            "Delete": {
                "Type": "Task",
                "Resource": f"{sdk}deleteEndpoint",
                "Parameters": {"EndpointName": endpoint},
                "ResultPath": "$.deleted",
                "End": True,
            },
        },
    }
    result = output_of(run(cloud, definition))
    described = result["described"]
    assert (described["EndpointName"], described["EndpointStatus"]) == (endpoint, "InService")
    assert described["EndpointConfigName"] == config
    assert ISO_MILLIS_UTC.match(described["CreationTime"]), described["CreationTime"]
    assert result["deleted"] == {}
    with pytest.raises(ClientError):
        cloud.sagemaker.describe_endpoint(EndpointName=endpoint)


# -- Contract tests: the moto 5.2.5 internals the seams patch ------------------------------------


def test_contract_json_path_extract_json_is_where_the_interpreter_resolves_paths(
    sfn_seam: StepFunctionsSeam,
) -> None:
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (  # noqa: E501
        numeric,
    )
    from moto.stepfunctions.parser.asl.eval import states
    from moto.stepfunctions.parser.asl.utils import json_path

    moto_extract = getattr(json_path.extract_json, "__wrapped__", None)
    assert moto_extract is not None, "json_path.extract_json is no longer our seam"
    assert list(inspect.signature(moto_extract).parameters) == ["path", "data"]
    assert str(json_path.NoSuchJsonPathError(json_path="$.x", data={})).startswith("The JSONPath")
    for module in (string_expression, numeric, states):
        assert module.extract_json is json_path.extract_json, (
            f"{module.__name__} resolves paths elsewhere"
        )
    stale = [
        name
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser.")
        and getattr(module, "extract_json", json_path.extract_json) is not json_path.extract_json
    ]
    assert stale == [], f"modules holding moto's unpatched extract_json: {stale}"


def test_contract_start_execution_takes_the_name_second(sfn_seam: StepFunctionsSeam) -> None:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        moto_start = backend.__dict__["start_execution"].__wrapped__
        assert list(inspect.signature(moto_start).parameters)[:3] == [
            "self",
            "state_machine_arn",
            "name",
        ], backend
    assert "start_execution" in StepFunctionResponse.start_execution.__code__.co_names


def test_contract_task_factory_looks_up_state_task_service_for_at_call_time(
    sfn_seam: StepFunctionsSeam,
) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_factory,
    )

    assert "state_task_service_for" in state_task_factory.state_task_for.__code__.co_names
    moto_factory = state_task_factory.state_task_service_for.__wrapped__
    assert moto_factory is state_task_service_factory.state_task_service_for.__wrapped__
    assert list(inspect.signature(moto_factory).parameters) == ["service_name"]


def test_contract_task_service_hooks_used_by_the_sagemaker_integration() -> None:
    from moto.stepfunctions.parser.asl.component.common.payload.payloadvalue.payloadbinding.payload_binding import (  # noqa: E501
        PayloadBinding,
    )
    from moto.stepfunctions.parser.asl.component.common.payload.payloadvalue.payloadtmpl.payload_tmpl import (  # noqa: E501
        PayloadTmpl,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    def calls(function: Callable[..., Any]) -> tuple[str, ...]:
        return function.__code__.co_names

    assert "_validate_service_integration_is_supported" in calls(StateTaskService.from_state_props)
    assert {"_eval_service_task", "_normalise_response"} <= set(
        calls(StateTaskService._eval_execution)
    )
    assert "_eval_integration_pattern" in calls(StateTaskServiceCallback._after_eval_execution)
    assert "_get_supported_parameters" in calls(StateTask._eval_parameters)
    assert "_from_error" in calls(ExecutionState._eval_state)
    assert list(inspect.signature(boto_client_for).parameters) == [
        "region",
        "service",
        "state_credentials",
    ]
    assert "payload_bindings" in inspect.signature(PayloadTmpl.__init__).parameters
    assert "field" in inspect.signature(PayloadBinding.__init__).parameters
    assert list(inspect.signature(Environment.is_running).parameters) == ["self"]  # .sync polls it


def test_contract_aws_sdk_result_hook_and_parser_error_codes(
    sfn_seam: StepFunctionsSeam,
) -> None:
    from moto.stepfunctions.parser import api as parser_api
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
        StateTaskServiceAwsSdk,
    )

    assert StateTaskServiceAwsSdk.__dict__["_normalise_response"] is iso_timestamps_in_place
    assert issubclass(parser_api.InvalidDefinition, AWSError)
    assert (
        parser_api.InvalidDefinition.code
        == parser_api.InvalidDefinition.TYPE
        == "InvalidDefinition"
    )
    assert "TYPE" in AWSError.__init__.__code__.co_names, "AWSError no longer reads TYPE"


def test_installing_twice_patches_once_and_uninstalling_restores_moto() -> None:
    from moto.stepfunctions.parser import api as parser_api
    from moto.stepfunctions.parser.asl.utils import json_path

    def interpreter() -> dict[str, Any]:
        """Every attribute the seam patches, as the process holds it now."""
        held = {
            name: module.extract_json
            for name, module in list(sys.modules.items())
            if name.startswith("moto.stepfunctions.parser.") and hasattr(module, "extract_json")
        }
        held["InvalidDefinition.TYPE"] = vars(parser_api.InvalidDefinition).get("TYPE")
        held["execute_state_machine"] = default_user_config["stepfunctions"].get(
            "execute_state_machine"
        )
        return held

    before = interpreter()
    seam = StepFunctionsSeam()
    seam.install()
    patched = json_path.extract_json
    seam.install()
    assert json_path.extract_json is patched, "a second install patched again"
    assert parser_api.InvalidDefinition.TYPE == "InvalidDefinition"
    assert default_user_config["stepfunctions"]["execute_state_machine"] is True
    seam.uninstall()
    assert interpreter() == before
