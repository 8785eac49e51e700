"""JudgeDrift: metrics, verdict, Model Drift Detected event and the audit entry of a check."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.drift_verdict import judge_drift
from mlops_common.handler import handler
from mlops_common.models import DriftVerdict, JudgeDriftInput
from mlops_common.observability import logger
from mlops_common.settings import JudgeDriftSettings

settings = JudgeDriftSettings()


@handler(model=JudgeDriftInput)
def lambda_handler(request: JudgeDriftInput, context: LambdaContext) -> DriftVerdict:
    verdict = judge_drift(
        request.plan,
        request.execution,
        settings,
        factories.s3_store(),
        factories.metric_publisher(settings.metrics_namespace),
        factories.event_bus(settings.event_bus_name),
        factories.ledger(settings),
    )
    logger.info("drift judged", extra={"outcome": verdict.outcome, "summary": verdict.summary})
    return verdict
