"""SelectCandidate: reads every evaluation report and computes the champion/challenger gate."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client
from mlops_common.adapters.s3 import S3Store
from mlops_common.domain.selection import select_best
from mlops_common.models import SelectCandidateInput
from mlops_common.observability import logger, metrics, tracer
from mlops_common.settings import SelectCandidateSettings

settings = SelectCandidateSettings()


@logger.inject_lambda_context(correlation_id_path="run.run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SelectCandidateInput)
def lambda_handler(request: SelectCandidateInput, context: LambdaContext) -> dict:
    selection = select_best(request.run, request.results, settings, S3Store(client("s3")))
    metrics.add_metric(
        name="BestCandidateScore", unit=MetricUnit.NoUnit, value=selection.gate.score
    )
    logger.info("candidate selected", extra={"gate": selection.gate.model_dump()})
    return selection.model_dump(mode="json")
