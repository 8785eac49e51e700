"""PrepareCandidate: builds the training and evaluation job requests of one candidate."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.champion import champion
from mlops_common.domain.training import build_candidate_plan
from mlops_common.handler import handler
from mlops_common.models import CandidatePlan, PrepareCandidateInput
from mlops_common.observability import logger
from mlops_common.settings import PrepareCandidateSettings

settings = PrepareCandidateSettings()


@handler(model=PrepareCandidateInput)
def lambda_handler(request: PrepareCandidateInput, context: LambdaContext) -> CandidatePlan:
    # A later round evaluates against the champion of now (domain.champion, design D2).
    now = champion(factories.registry(settings)) if request.round else None
    plan = build_candidate_plan(request.run, request.candidate, settings, request.round, now)
    logger.info("candidate planned", extra={"training_job": plan.training["TrainingJobName"]})
    return plan
