"""RegisterModel: creates the model package with metrics and lineage."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.registration import register_model
from mlops_common.models import RegisterModelInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import RegisterModelSettings

settings = RegisterModelSettings()


@logger.inject_lambda_context(correlation_id_path="run.run_id")
@tracer.capture_lambda_handler
@event_parser(model=RegisterModelInput)
def lambda_handler(request: RegisterModelInput, context: LambdaContext) -> dict:
    result = register_model(
        request.run,
        request.selection,
        settings,
        ModelRegistry(client("sagemaker"), settings.model_package_group),
    )
    logger.info("model registered", extra=result.model_dump())
    return result.model_dump(mode="json")
