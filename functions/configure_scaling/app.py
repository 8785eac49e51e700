"""ConfigureScaling: autoscaling of the live variant around an endpoint update — `prepare`
before UpdateEndpoint (deregister only if the update requires it), `register` once the
endpoint settled (target tracking on invocations per instance)."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.scaling import configure_scaling
from mlops_common.handler import handler
from mlops_common.models import ConfigureScalingInput, ConfigureScalingOutput
from mlops_common.observability import logger
from mlops_common.settings import ConfigureScalingSettings

settings = ConfigureScalingSettings()


@handler(model=ConfigureScalingInput)
def lambda_handler(
    request: ConfigureScalingInput, context: LambdaContext
) -> ConfigureScalingOutput:
    result = configure_scaling(
        request.action,
        request.plan,
        settings.variant_name,
        settings.scaling,
        factories.endpoints(),
        factories.scalable_targets(),
    )
    logger.info("scaling configured", extra=result.model_dump())
    return result
