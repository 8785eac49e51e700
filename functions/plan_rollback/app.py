"""PlanRollback: is a rollback due, and to which last known-good version?"""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.rollback import plan_rollback
from mlops_common.handler import handler
from mlops_common.models import RollbackPlan, RollbackPlanInput
from mlops_common.observability import logger
from mlops_common.settings import RollbackSettings

settings = RollbackSettings()


@handler(model=RollbackPlanInput)
def lambda_handler(request: RollbackPlanInput, context: LambdaContext) -> RollbackPlan:
    plan = plan_rollback(
        request.request,
        request.execution,
        settings,
        factories.registry(settings),
        factories.endpoints(),
        factories.s3_store(),
        factories.ledger(settings),
    )
    logger.info("rollback planned", extra={"action": plan.action, "reason": plan.reason})
    return plan
