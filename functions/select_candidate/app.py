"""SelectCandidate: reads every evaluation report and computes the champion/challenger gate."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.selection import select_best
from mlops_common.handler import handler
from mlops_common.models import SelectCandidateInput, Selection
from mlops_common.observability import logger, metrics
from mlops_common.settings import SelectCandidateSettings

settings = SelectCandidateSettings()


@handler(model=SelectCandidateInput)
def lambda_handler(request: SelectCandidateInput, context: LambdaContext) -> Selection:
    selection = select_best(request.run, request.results, settings, factories.s3_store())
    metrics.add_metric(
        name="BestCandidateScore", unit=MetricUnit.NoUnit, value=selection.gate.score
    )
    logger.info("candidate selected", extra={"gate": selection.gate.model_dump()})
    return selection
