"""RecordRollback: the audit entry of a finished rollback; the bad version is rejected."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.rollback import record_rollback
from mlops_common.handler import handler
from mlops_common.models import RecordRollbackInput, RecordRollbackOutput
from mlops_common.observability import logger
from mlops_common.settings import RecordRollbackSettings

settings = RecordRollbackSettings()


@handler(model=RecordRollbackInput)
def lambda_handler(request: RecordRollbackInput, context: LambdaContext) -> RecordRollbackOutput:
    result = record_rollback(
        request.plan, request.execution, factories.ledger(settings), factories.registry(settings)
    )
    logger.info("rollback recorded", extra=result.model_dump())
    return result
