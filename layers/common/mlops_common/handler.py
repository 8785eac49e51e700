"""The one decorator every function's handler wears.

    @handler(model=ValidateDatasetInput)
    def lambda_handler(request: ValidateDatasetInput, context: LambdaContext) -> ...:
        return start_training_run(request.event, ..., factories.registry(settings))

On each invocation it injects the Lambda context into the logger (state cleared first, so no
key of the previous invocation survives in a warm container), traces the handler, flushes the
metrics in CloudWatch embedded metric format, parses the event into `model`, sets the logger's
correlation id to the execution name the model carries (`FunctionInput.correlation_id`), and
returns the handler's output model as JSON data, which is what the ASL task receives.

Exceptions pass through unchanged. Lambda reports `errorType` as the exception's class name and
the state machines catch domain errors by that name ("Error handling in Step Functions",
docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html); an event that does
not fit `model` raises pydantic's ValidationError, which names the field.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from .models import FunctionInput
from .observability import logger, metrics, tracer

Task = Callable[[Any, LambdaContext], BaseModel]


@lambda_handler_decorator
def handler(
    task: Task, event: dict[str, Any], context: LambdaContext, model: type[FunctionInput]
) -> dict[str, Any]:
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @wraps(task)
    def invoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = parse(event=event, model=model)
        logger.set_correlation_id(request.correlation_id)
        return task(request, context).model_dump(mode="json")

    return invoke(event, context)
