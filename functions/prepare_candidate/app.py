"""PrepareCandidate: builds the training and evaluation job requests of one candidate."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.domain.training import build_candidate_plan
from mlops_common.models import PrepareCandidateInput
from mlops_common.observability import logger, tracer
from mlops_common.settings import PrepareCandidateSettings

settings = PrepareCandidateSettings()


@logger.inject_lambda_context(correlation_id_path="run.run_id")
@tracer.capture_lambda_handler
@event_parser(model=PrepareCandidateInput)
def lambda_handler(request: PrepareCandidateInput, context: LambdaContext) -> dict:
    plan = build_candidate_plan(request.run, request.candidate, settings)
    logger.info("candidate planned", extra={"training_job": plan.training["TrainingJobName"]})
    return plan.model_dump(mode="json")
