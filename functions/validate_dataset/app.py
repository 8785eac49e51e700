"""ValidateDataset: checks the uploaded CSV, claims its version, finds the champion."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client, resource
from mlops_common.adapters.ledger import Ledger
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.adapters.s3 import S3Store
from mlops_common.domain.training import start_training_run
from mlops_common.models import ValidateDatasetInput
from mlops_common.observability import logger, metrics, tracer
from mlops_common.settings import ValidateDatasetSettings

settings = ValidateDatasetSettings()


@logger.inject_lambda_context(correlation_id_path="execution.Name")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateDatasetInput)
def lambda_handler(request: ValidateDatasetInput, context: LambdaContext) -> dict:
    result = start_training_run(
        request.event,
        request.execution,
        settings,
        S3Store(client("s3")),
        ModelRegistry(client("sagemaker"), settings.model_package_group),
        Ledger(resource("dynamodb").Table(settings.ledger_table)),
    )
    metrics.add_metric(name=f"Datasets{result.action.title()}", unit=MetricUnit.Count, value=1)
    logger.info("dataset checked", extra={"action": result.action, "reason": result.reason})
    return result.model_dump(mode="json")
