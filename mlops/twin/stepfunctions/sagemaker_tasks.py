"""The optimized SageMaker integration (``arn:aws:states:::sagemaker:<api>[.sync]``) for moto.

moto 5.2.5's interpreter lists "sagemaker" as unsupported. This service follows moto's own
integrations (state_task_service_batch.py / _glue.py): the API call goes through the
interpreter's ``boto_client_for`` (HTTP to MOTO_PORT in server mode, so the twin's gateway and
its job seams see it) and errors become Step Functions failure events.

What AWS does, and this mirrors (see
docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html):
- Only the optimized APIs in OPTIMIZED_ACTIONS exist; ``.sync`` only for the job-creating ones;
  ``.waitForTaskToken`` is not supported. Anything else is rejected when the state machine is
  created (delete*/stop* calls need ``arn:aws:states:::aws-sdk:sagemaker:<api>``).
- Request-response: the task result is the API response.
- ``.sync``: the task polls Describe* until the job ends; a Completed job's result is the
  Describe* response, a Failed/Stopped job fails the task with States.TaskFailed and the
  Describe* response (JSON) as the cause. A task abandoned by a timeout or a stopped execution
  stops its job (the .sync IAM policies on sagemaker-iam.html grant Stop*Job for that).
- API errors: ``SageMaker.<Java SDK exception>`` - modeled errors keep their class name
  (``SageMaker.ResourceLimitExceededException``, used in the doc's Retry example), unmodeled
  ones (ValidationException, ThrottlingException...) surface as the SDK base class
  ``SageMaker.AmazonSageMakerException``; the cause is the SDK v1 message
  "<message> (Service: AmazonSageMaker; Status Code: ..; Error Code: ..; Request ID: ..; ...)".
- Timestamps: rendered as epoch milliseconds (e.g. "CreationTime": 1654683838000). No AWS page
  states this; it is inferred from how the optimized integrations expose the Java SDK v1 result
  (they include its SdkHttpMetadata fields, i.e. a Jackson-serialised POJO, and Jackson writes
  java.util.Date as epoch milliseconds). Change to_step_functions_json if AWS shows otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import dataclass
from typing import Any, Final

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel, ServiceModel
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.payload.payloadvalue.payloadtmpl.payload_tmpl import (  # noqa: E501
    PayloadTmpl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
    StateCredentials,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.state_props import StateProps
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from mlops.twin.aws.timestamps import epoch_millis, render_datetimes

SYNC_POLL_SECONDS_ENV: Final = "MLOPS_TWIN_SYNC_POLL_SECONDS"
DEFAULT_SYNC_POLL_SECONDS: Final = 0.5
JOB_SUCCEEDED: Final = "Completed"
JOB_TERMINAL_STATUSES: Final = frozenset({"Completed", "Failed", "Stopped"})
SDK_BASE_EXCEPTION: Final = "AmazonSageMakerException"


@dataclass(frozen=True)
class SyncJob:
    """How ``.sync`` follows a job: its Describe* and Stop* calls, name and status fields."""

    describe_method: str
    stop_method: str
    name_field: str
    status_field: str


# The optimized API list of the connect-sagemaker page; the value says how .sync follows it.
OPTIMIZED_ACTIONS: Final[dict[str, SyncJob | None]] = {
    "createEndpoint": None,
    "createEndpointConfig": None,
    "createModel": None,
    "updateEndpoint": None,
    "createHyperParameterTuningJob": SyncJob(
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
    "createLabelingJob": SyncJob(
        "describe_labeling_job", "stop_labeling_job", "LabelingJobName", "LabelingJobStatus"
    ),
    "createProcessingJob": SyncJob(
        "describe_processing_job",
        "stop_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
    ),
    "createTrainingJob": SyncJob(
        "describe_training_job", "stop_training_job", "TrainingJobName", "TrainingJobStatus"
    ),
    "createTransformJob": SyncJob(
        "describe_transform_job", "stop_transform_job", "TransformJobName", "TransformJobStatus"
    ),
}


def sync_poll_seconds() -> float:
    """Interval between Describe* polls; the env var lets tests and demos go faster."""
    return float(os.environ.get(SYNC_POLL_SECONDS_ENV, DEFAULT_SYNC_POLL_SECONDS))


@functools.cache
def _sagemaker_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def _operation(action: str) -> OperationModel:
    return _sagemaker_model().operation_model(action[:1].upper() + action[1:])


@functools.cache
def _modeled_exception_names() -> dict[str, str]:
    """Error code -> Java SDK v1 exception class name, for SageMaker's modeled errors."""
    names = {}
    for shape in _sagemaker_model().error_shapes:
        code = shape.error_code or shape.name
        names[code] = shape.name if shape.name.endswith("Exception") else f"{shape.name}Exception"
    return names


def error_name_for(error_code: str) -> str:
    """The Step Functions error name for a SageMaker API error code."""
    return f"SageMaker.{_modeled_exception_names().get(error_code, SDK_BASE_EXCEPTION)}"


def to_step_functions_json(value: Any) -> Any:
    """Render a boto3 response the way the optimized integration does (dates as epoch ms)."""
    return render_datetimes(value, epoch_millis)


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """Task state for ``arn:aws:states:::sagemaker:<api>`` and ``...:<api>.sync``."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    # -- definition time -------------------------------------------------------------------

    def from_state_props(self, state_props: StateProps) -> None:
        super().from_state_props(state_props)  # runs _validate_service_integration_is_supported
        self._reject_unsupported_fields()

    def _validate_service_integration_is_supported(self) -> None:
        action, condition = self.resource.api_action, self.resource.condition
        if action not in OPTIMIZED_ACTIONS:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized. The value is "
                "not a valid resource ARN, or the resource is not available in this region. "
                f"(Only the optimized SageMaker APIs exist; use "
                f"arn:aws:states:::aws-sdk:sagemaker:{action} for this call.)"
            )
        if condition is not None and (
            condition != ResourceCondition.Sync or OPTIMIZED_ACTIONS[action] is None
        ):
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized: "
                f"sagemaker:{action} does not support the '.{condition}' integration pattern."
            )

    def _get_supported_parameters(self) -> set[str]:
        return set(_operation(self.resource.api_action).input_shape.members)

    def _reject_unsupported_fields(self) -> None:
        # AWS fails CreateStateMachine on unknown Parameters fields; moto would silently drop
        # them, hiding typos until the real deployment.
        template = getattr(self.parargs, "template_eval_component", None)
        if not isinstance(template, PayloadTmpl):
            return  # no Parameters, or JSONata Arguments (only known at run time)
        supported = self._get_supported_parameters()
        for binding in template.payload_bindings:
            if binding.field.removesuffix(".$") not in supported:
                raise ValueError(f'The field "{binding.field}" is not supported by Step Functions')

    # -- run time ----------------------------------------------------------------------------

    def _client(self, runtime: ResourceRuntimePart, credentials: StateCredentials) -> Any:
        return boto_client_for(
            region=runtime.region, service="sagemaker", state_credentials=credentials
        )

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict,
        state_credentials: StateCredentials,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        api_call = getattr(client, self._get_boto_service_action())
        response = api_call(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(to_step_functions_json(response))

    def _eval_integration_pattern(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict,
        state_credentials: StateCredentials,
    ) -> None:
        # Replaces moto's version, which assumes a task-token callback endpoint; SageMaker has
        # none (only .sync), so that code path would fail on a None endpoint.
        env.stack.pop()  # the Create* response; .sync returns the final Describe* instead
        job = OPTIMIZED_ACTIONS[self.resource.api_action]
        assert job is not None  # guaranteed by _validate_service_integration_is_supported
        client = self._client(resource_runtime_part, state_credentials)
        job_name = {job.name_field: normalised_parameters[job.name_field]}
        poll_seconds = sync_poll_seconds()
        while env.is_running():
            description = getattr(client, job.describe_method)(**job_name)
            if description[job.status_field] in JOB_TERMINAL_STATUSES:
                break
            time.sleep(poll_seconds)
        else:
            # The state timed out or the execution stopped. AWS then stops the job (its .sync
            # IAM policy grants sagemaker:Stop*Job for this); best effort, like AWS.
            with contextlib.suppress(ClientError, BotoCoreError):
                getattr(client, job.stop_method)(**job_name)
            raise RuntimeError(f"Stopped waiting for SageMaker job {job_name}.")
        description.pop("ResponseMetadata", None)
        result = to_step_functions_json(description)
        if result[job.status_field] != JOB_SUCCEEDED:
            raise FailureEventException(self._task_failed_event(env, cause=to_json_str(result)))
        env.stack.append(result)

    # -- errors ------------------------------------------------------------------------------

    def _task_failed_event(self, env: Environment, cause: str) -> FailureEvent:
        states_task_failed = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
        return self._failure(env, states_task_failed, states_task_failed.error_name, cause)

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return super()._from_error(env=env, ex=ex)
        code = ex.response["Error"]["Code"]
        metadata = ex.response["ResponseMetadata"]
        details = "; ".join(
            [
                "Service: AmazonSageMaker",
                f"Status Code: {metadata['HTTPStatusCode']}",
                f"Error Code: {code}",
                f"Request ID: {metadata.get('RequestId', '')}",
                "Proxy: null",
            ]
        )
        error = error_name_for(code)
        cause = f"{ex.response['Error']['Message']} ({details})"
        return self._failure(env, CustomErrorName(error), error, cause)

    def _failure(self, env: Environment, name: Any, error: str, cause: str) -> FailureEvent:
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )
