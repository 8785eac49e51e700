"""JudgeABTest: one look at a running A/B test; WAIT, PROMOTE or STOP (an operator's word first)."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.ab_test import judge_ab_test
from mlops_common.handler import handler
from mlops_common.models import ABComparison, JudgeABTestInput
from mlops_common.observability import logger
from mlops_common.settings import ABTestSettings

settings = ABTestSettings()


@handler(model=JudgeABTestInput)
def lambda_handler(request: JudgeABTestInput, context: LambdaContext) -> ABComparison:
    comparison = judge_ab_test(
        request.plan,
        request.endpoint,
        request.execution,
        settings,
        factories.endpoint_metrics(request.plan.endpoint_name),
        factories.ledger(settings),
        factories.s3_store(),
        factories.registry(settings),
    )
    logger.info("A/B test judged", extra=comparison.model_dump())
    return comparison
