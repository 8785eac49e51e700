"""CompareShadow: judges the candidate's shadow test and records the comparison on its package."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.metrics import EndpointMetrics
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.adapters.s3 import S3Store
from mlops_common.domain.shadow import compare_shadow
from mlops_common.models import CompareShadowInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import ShadowSettings

settings = ShadowSettings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=CompareShadowInput)
def lambda_handler(request: CompareShadowInput, context: LambdaContext) -> dict:
    comparison = compare_shadow(
        request.plan,
        request.endpoint,
        settings,
        S3Store(client("s3")),
        EndpointMetrics(client("cloudwatch"), request.plan.endpoint_name),
        ModelRegistry(client("sagemaker"), settings.model_package_group),
    )
    logger.info("shadow test judged", extra=comparison.model_dump())
    return comparison.model_dump(mode="json")
