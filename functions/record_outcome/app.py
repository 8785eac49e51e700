"""RecordOutcome: the notification (and ledger entry) every workflow path ends with."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client, resource
from mlops_common.adapters.ledger import Ledger
from mlops_common.adapters.notifier import Notifier
from mlops_common.domain.outcome import record_outcome
from mlops_common.models import OutcomeInput
from mlops_common.observability import logger, metrics, tracer
from mlops_common.settings import RecordOutcomeSettings

settings = RecordOutcomeSettings()


@logger.inject_lambda_context(correlation_id_path="execution.Name")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=OutcomeInput)
def lambda_handler(request: OutcomeInput, context: LambdaContext) -> dict:
    result = record_outcome(
        request,
        Ledger(resource("dynamodb").Table(settings.ledger_table)),
        Notifier(client("sns"), settings.topic_arn),
    )
    metrics.add_dimension(name="workflow", value=request.workflow)
    metrics.add_metric(
        name=f"Outcome{request.outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    return result.model_dump(mode="json")
