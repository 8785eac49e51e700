"""VerifyDeployment: InService on the target config, or a named failure (and a rejection)."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.deployment import verify_deployment
from mlops_common.handler import handler
from mlops_common.models import VerifyDeploymentInput, VerifyDeploymentOutput
from mlops_common.observability import logger
from mlops_common.settings import VerifyDeploymentSettings

settings = VerifyDeploymentSettings()


@handler(model=VerifyDeploymentInput)
def lambda_handler(
    request: VerifyDeploymentInput, context: LambdaContext
) -> VerifyDeploymentOutput:
    result = verify_deployment(
        request.plan, request.endpoint, factories.registry(settings), request.reject_on_rollback
    )
    logger.info("deployment verified", extra=result.model_dump())
    return result
