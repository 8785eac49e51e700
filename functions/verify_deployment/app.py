"""VerifyDeployment: InService on the target config, or a named failure (and a rejection)."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.deployment import verify_deployment
from mlops_common.models import VerifyDeploymentInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import VerifyDeploymentSettings

settings = VerifyDeploymentSettings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=VerifyDeploymentInput)
def lambda_handler(request: VerifyDeploymentInput, context: LambdaContext) -> dict:
    result = verify_deployment(
        request.plan,
        request.endpoint,
        ModelRegistry(client("sagemaker"), settings.model_package_group),
        request.reject_on_rollback,
    )
    return result.model_dump(mode="json")
