"""Runtime patches that make moto 5.2.5's Step Functions interpreter behave like AWS.

`StepFunctionsSeam` applies them while installed (mlops/twin/seam.py). Each patch replaces one
moto internal; tests/twin/test_sfn_conformance.py holds a contract test per internal so a moto
upgrade that moves one fails loudly instead of silently un-patching:

1. ``moto.stepfunctions.parser.asl.utils.json_path.extract_json`` (and every interpreter module
   that imported it by name): definite paths such as ``$.out[0].v`` yield the value, not a list.
2. ``StepFunctionBackend.start_execution`` and ``StepFunctionsParserBackend.start_execution``:
   an execution started without a name gets a UUID name, as AWS does (moto used ``None``).
3. ``state_task_service_for`` in the task factory modules: ``arn:aws:states:::sagemaker:*``
   resolves to our SageMaker integration (stepfunctions/sagemaker_tasks.py), not "unsupported".
4. ``StateTaskServiceAwsSdk._normalise_response`` (a no-op hook in moto): timestamps in aws-sdk
   results become ISO-8601 strings such as "2013-08-23T01:02:15.422Z" (as observed from AWS in
   github.com/sam-goodwin/functionless/issues/489) instead of datetime objects, which made
   DescribeExecution fail with HTTP 500 (json.dumps on a datetime).
5. The error classes of ``moto.stepfunctions.parser.api`` (InvalidDefinition, ResourceNotFound,
   InvalidToken, TaskDoesNotExist...): they name their code in ``code`` but moto's AWSError
   base reads ``TYPE``, so every one reached clients with an empty error code.
6. ``BaseExecutionWorkerCommunication._reflect_execution_status``: a finished execution's output
   is stored as JSON text. moto kept the Python value and DescribeExecution then sent a string
   result unquoted (``b`` instead of ``"b"``) and failed with HTTP 500 on datetimes.

Running state machines at all is moto config, which the seam sets while installed too:
``default_user_config["stepfunctions"]["execute_state_machine"] = True``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from moto.core.config import default_user_config
from moto.core.exceptions import AWSError
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser import api as parser_api
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from mlops.twin.aws.timestamps import iso_millis, render_datetimes
from mlops.twin.seam import ImportedPatch, ItemPatch, Patch, PatchSeam
from mlops.twin.stepfunctions.jsonpath import make_extract_json
from mlops.twin.stepfunctions.sagemaker_tasks import StateTaskServiceSageMaker

INTERPRETER_PACKAGE = "moto.stepfunctions.parser."
_OUTPUT_IS_JSON = "_mlops_twin_output_is_json"


class StepFunctionsSeam(PatchSeam):
    """moto's interpreter switched on, and the six patches of this module's docstring."""

    def patches(self) -> Sequence[Patch]:
        return [
            ItemPatch(default_user_config["stepfunctions"], "execute_state_machine", True),
            _definite_jsonpaths(),
            *_generated_execution_names(),
            *_sagemaker_integration(),
            Patch(StateTaskServiceAwsSdk, "_normalise_response", iso_timestamps_in_place),
            *_parser_error_codes(),
            _json_execution_output(),
        ]


def _definite_jsonpaths() -> Patch:
    original = json_path.extract_json
    patched = make_extract_json(original, json_path.NoSuchJsonPathError)
    patched.__wrapped__ = original  # type: ignore[attr-defined]  # lets contract tests see moto's
    # Interpreter modules bound the function at import (`from ...json_path import extract_json`).
    return ImportedPatch(json_path, "extract_json", patched, package=INTERPRETER_PACKAGE)


def _generated_execution_names() -> list[Patch]:
    # The parser backend overrides start_execution without calling super(), so both need it.
    return [
        Patch(backend, "start_execution", _with_generated_name(backend.__dict__["start_execution"]))
        for backend in (StepFunctionBackend, StepFunctionsParserBackend)
    ]


def _with_generated_name(start_execution: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(start_execution)
    def start_execution_with_name(
        self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        # AWS: "If you don't provide a name for the execution, Step Functions automatically
        # generates a universally unique identifier (UUID) as the execution name."
        return start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start_execution_with_name


def _sagemaker_integration() -> list[Patch]:
    original = state_task_factory.state_task_service_for

    @functools.wraps(original)
    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name=service_name)

    return [
        Patch(module, "state_task_service_for", state_task_service_for)
        for module in (state_task_factory, state_task_service_factory)
    ]


def iso_timestamps_in_place(self: Any, response: Any, *_: Any, **__: Any) -> None:
    """moto's hook contract: mutate the task result in place (it is already on the eval
    stack)."""
    if isinstance(response, dict):
        for key, value in response.items():
            response[key] = iso_timestamps(value)


def iso_timestamps(value: Any) -> Any:
    """Datetimes -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds), recursively."""
    return render_datetimes(value, iso_millis)


def _parser_error_codes() -> list[Patch]:
    patches = []
    for error_class in vars(parser_api).values():
        is_parser_error = isinstance(error_class, type) and issubclass(error_class, AWSError)
        code = getattr(error_class, "code", None)
        if is_parser_error and error_class.TYPE is None and isinstance(code, str):
            status = getattr(error_class, "status_code", error_class.STATUS)
            patches += [Patch(error_class, "TYPE", code), Patch(error_class, "STATUS", status)]
    return patches


def _json_execution_output() -> Patch:
    worker = BaseExecutionWorkerCommunication
    original = worker.__dict__["_reflect_execution_status"]

    @functools.wraps(original)
    def reflect_execution_status(self: Any) -> None:
        original(self)
        execution = self.execution
        if execution.output is not None and not getattr(execution, _OUTPUT_IS_JSON, False):
            # DescribeExecution sends a str as is and json.dumps() anything else (no datetimes).
            execution.output = to_json_str(execution.output, separators=(",", ":"))
            setattr(execution, _OUTPUT_IS_JSON, True)

    return Patch(worker, "_reflect_execution_status", reflect_execution_status)
