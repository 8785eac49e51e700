"""RecordOutcome: the notification (and ledger entry) every workflow path ends with."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.outcome import record_outcome
from mlops_common.handler import handler
from mlops_common.models import OutcomeInput, OutcomeOutput
from mlops_common.observability import logger, metrics
from mlops_common.settings import RecordOutcomeSettings

settings = RecordOutcomeSettings()


@handler(model=OutcomeInput)
def lambda_handler(request: OutcomeInput, context: LambdaContext) -> OutcomeOutput:
    result = record_outcome(request, factories.ledger(settings), factories.notifier(settings))
    metrics.add_dimension(name="workflow", value=request.workflow)
    metrics.add_metric(
        name=f"Outcome{request.outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    logger.info("outcome recorded", extra=result.model_dump())
    return result
