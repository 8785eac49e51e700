"""AcquireEndpoint: takes this execution's turn on the endpoint, or says who holds it."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.endpoint_lock import acquire_endpoint
from mlops_common.handler import handler
from mlops_common.models import AcquireEndpointInput, AcquireEndpointOutput
from mlops_common.observability import logger
from mlops_common.settings import AcquireEndpointSettings

settings = AcquireEndpointSettings()


@handler(model=AcquireEndpointInput)
def lambda_handler(request: AcquireEndpointInput, context: LambdaContext) -> AcquireEndpointOutput:
    turn = acquire_endpoint(
        settings.endpoint_name,
        request.execution,
        request.workflow,
        factories.ledger(settings),
        factories.executions(),
    )
    logger.info("endpoint turn", extra={"acquired": turn.acquired, "reason": turn.reason})
    return turn
