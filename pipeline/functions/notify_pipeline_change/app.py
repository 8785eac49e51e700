"""NotifyPipelineChange: an aws.codepipeline state change of the delivery pipeline, as a
readable message on its notification topic (the commit; on failure the failed action)."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import client, factories
from mlops_common.adapters.pipelines import Pipelines
from mlops_common.domain.pipeline_notice import (
    PipelineChangeEvent,
    PipelineNotice,
    notify_pipeline_change,
)
from mlops_common.handler import handler
from mlops_common.observability import logger, metrics
from mlops_common.settings import PipelineNotifierSettings

settings = PipelineNotifierSettings()


@handler(model=PipelineChangeEvent)
def lambda_handler(request: PipelineChangeEvent, context: LambdaContext) -> PipelineNotice:
    notice = notify_pipeline_change(
        request, Pipelines(client("codepipeline")), factories.notifier(settings)
    )
    metrics.add_dimension(name="state", value=request.detail.state)
    metrics.add_metric(name="PipelineNotices", unit=MetricUnit.Count, value=int(notice.published))
    logger.info("pipeline change", extra={"published": notice.published, "subject": notice.subject})
    return notice
