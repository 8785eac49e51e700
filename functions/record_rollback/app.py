"""RecordRollback: the audit entry of a finished rollback; the bad version is rejected."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client, resource
from mlops_common.adapters.ledger import Ledger
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.rollback import record_rollback
from mlops_common.models import RecordRollbackInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import RecordRollbackSettings

settings = RecordRollbackSettings()


@logger.inject_lambda_context(correlation_id_path="execution.Name")
@tracer.capture_lambda_handler
@event_parser(model=RecordRollbackInput)
def lambda_handler(request: RecordRollbackInput, context: LambdaContext) -> dict:
    result = record_rollback(
        request.plan,
        request.execution,
        Ledger(resource("dynamodb").Table(settings.ledger_table)),
        ModelRegistry(client("sagemaker"), settings.model_package_group),
    )
    logger.info("rollback recorded", extra=result.model_dump())
    return result.model_dump(mode="json")
