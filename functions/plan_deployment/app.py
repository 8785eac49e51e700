"""PlanDeployment: decides whether an approved package is deployed and builds the requests."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.deployment import plan_deployment
from mlops_common.models import DeployPlanInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import DeploySettings

settings = DeploySettings()


@logger.inject_lambda_context(correlation_id_path="execution.Name")
@tracer.capture_lambda_handler
@event_parser(model=DeployPlanInput)
def lambda_handler(request: DeployPlanInput, context: LambdaContext) -> dict:
    plan = plan_deployment(
        request.event,
        request.execution,
        settings,
        ModelRegistry(client("sagemaker"), settings.model_package_group),
        Endpoints(client("sagemaker")),
    )
    logger.info("deployment planned", extra={"action": plan.action, "reason": plan.reason})
    return plan.model_dump(mode="json")
