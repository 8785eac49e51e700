"""SmokeTest: a real InvokeEndpoint with rows from the model's own dataset."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.adapters.s3 import S3Store
from mlops_common.domain.smoke import smoke_test
from mlops_common.models import SmokeTestInput
from mlops_common.observability import logger, metrics, tracer
from mlops_common.settings import SmokeTestSettings

settings = SmokeTestSettings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SmokeTestInput)
def lambda_handler(request: SmokeTestInput, context: LambdaContext) -> dict:
    result = smoke_test(
        request.plan,
        settings.smoke_rows,
        settings.label_column,
        ModelRegistry(client("sagemaker"), settings.model_package_group),
        S3Store(client("s3")),
        Endpoints(client("sagemaker"), client("sagemaker-runtime")),
    )
    metrics.add_metric(
        name="SmokeTestLatency", unit=MetricUnit.Milliseconds, value=result.latency_ms
    )
    return result.model_dump(mode="json")
