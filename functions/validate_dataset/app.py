"""ValidateDataset: resolves what started the run, claims it, checks and snapshots the dataset."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.intake import start_training_run
from mlops_common.handler import handler
from mlops_common.models import ValidateDatasetInput, ValidateDatasetOutput
from mlops_common.observability import logger, metrics
from mlops_common.settings import ValidateDatasetSettings

settings = ValidateDatasetSettings()


@handler(model=ValidateDatasetInput)
def lambda_handler(request: ValidateDatasetInput, context: LambdaContext) -> ValidateDatasetOutput:
    result = start_training_run(
        request.event,
        request.execution,
        settings,
        factories.s3_store(),
        factories.registry(settings),
        factories.ledger(settings),
        factories.executions(),
    )
    metrics.add_metric(name=f"Datasets{result.action.title()}", unit=MetricUnit.Count, value=1)
    logger.info("dataset checked", extra={"action": result.action, "reason": result.reason})
    return result
