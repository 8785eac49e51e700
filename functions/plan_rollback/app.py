"""PlanRollback: is a rollback due, and to which last known-good version?"""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.endpoints import Endpoints
from mlops_common.adapters.registry import ModelRegistry
from mlops_common.domain.rollback import plan_rollback
from mlops_common.models import RollbackPlanInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import RollbackSettings

settings = RollbackSettings()


@logger.inject_lambda_context(correlation_id_path="execution.Name")
@tracer.capture_lambda_handler
@event_parser(model=RollbackPlanInput)
def lambda_handler(request: RollbackPlanInput, context: LambdaContext) -> dict:
    plan = plan_rollback(
        request.request,
        request.execution,
        settings,
        ModelRegistry(client("sagemaker"), settings.model_package_group),
        Endpoints(client("sagemaker")),
    )
    logger.info("rollback planned", extra={"action": plan.action, "reason": plan.reason})
    return plan.model_dump(mode="json")
