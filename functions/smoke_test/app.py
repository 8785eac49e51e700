"""SmokeTest: a real InvokeEndpoint with rows from the model's own dataset."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.smoke import smoke_test
from mlops_common.handler import handler
from mlops_common.models import SmokeTestInput, SmokeTestOutput
from mlops_common.observability import logger, metrics
from mlops_common.settings import SmokeTestSettings

settings = SmokeTestSettings()


@handler(model=SmokeTestInput)
def lambda_handler(request: SmokeTestInput, context: LambdaContext) -> SmokeTestOutput:
    result = smoke_test(
        request.plan,
        settings.smoke_rows,
        settings.label_column,
        factories.registry(settings),
        factories.s3_store(),
        factories.endpoints(invoke=True),
    )
    metrics.add_metric(
        name="SmokeTestLatency", unit=MetricUnit.Milliseconds, value=result.latency_ms
    )
    logger.info("smoke test passed", extra={"rows": result.rows, "latency_ms": result.latency_ms})
    return result
