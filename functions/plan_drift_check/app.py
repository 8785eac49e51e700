"""PlanDriftCheck: the live version, its baseline and the captured traffic to compare."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.drift_plan import plan_drift_check
from mlops_common.handler import handler
from mlops_common.models import DriftCheckInput, DriftPlan
from mlops_common.observability import logger
from mlops_common.settings import DriftCheckSettings

settings = DriftCheckSettings()


@handler(model=DriftCheckInput)
def lambda_handler(request: DriftCheckInput, context: LambdaContext) -> DriftPlan:
    plan = plan_drift_check(
        request.execution,
        settings,
        factories.endpoints(),
        factories.registry(settings),
        factories.s3_store(),
        factories.ledger(settings),
        datetime.now(UTC),
    )
    logger.info("drift check planned", extra={"action": plan.action, "reason": plan.reason})
    return plan
