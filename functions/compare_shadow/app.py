"""CompareShadow: judges the candidate's shadow test and records the comparison on its package."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.shadow import compare_shadow
from mlops_common.handler import handler
from mlops_common.models import CompareShadowInput, ShadowComparison
from mlops_common.observability import logger
from mlops_common.settings import ShadowSettings

settings = ShadowSettings()


@handler(model=CompareShadowInput)
def lambda_handler(request: CompareShadowInput, context: LambdaContext) -> ShadowComparison:
    comparison = compare_shadow(
        request.plan,
        request.endpoint,
        settings,
        factories.s3_store(),
        factories.endpoint_metrics(request.plan.endpoint_name),
        factories.registry(settings),
    )
    logger.info("shadow test judged", extra=comparison.model_dump())
    return comparison
