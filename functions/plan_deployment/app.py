"""PlanDeployment: once this execution holds the endpoint, decides whether an approved package
is deployed (checking its provenance) and builds the requests."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.deployment import plan_deployment
from mlops_common.handler import handler
from mlops_common.models import DeployPlan, DeployPlanInput
from mlops_common.observability import logger
from mlops_common.settings import DeploySettings

settings = DeploySettings()


@handler(model=DeployPlanInput)
def lambda_handler(request: DeployPlanInput, context: LambdaContext) -> DeployPlan:
    plan = plan_deployment(
        request.event,
        request.execution,
        settings,
        factories.registry(settings),
        factories.endpoints(),
        factories.s3_store(),
    )
    logger.info("deployment planned", extra={"action": plan.action, "reason": plan.reason})
    return plan
