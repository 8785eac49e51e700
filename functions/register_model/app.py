"""RegisterModel: creates the model package with metrics and lineage."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.registration import register_model
from mlops_common.handler import handler
from mlops_common.models import RegisterModelInput, RegisterModelOutput
from mlops_common.observability import logger
from mlops_common.settings import RegisterModelSettings

settings = RegisterModelSettings()


@handler(model=RegisterModelInput)
def lambda_handler(request: RegisterModelInput, context: LambdaContext) -> RegisterModelOutput:
    result = register_model(
        request.run,
        request.selection,
        settings,
        factories.registry(settings),
        factories.s3_store(),
        factories.ledger(settings),
        factories.executions(),
        request.execution,
    )
    logger.info("model registered", extra=result.model_dump())
    return result
