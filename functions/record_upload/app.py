"""RecordUpload: records an upload in the ledger and pushes its prefix's run past the quiet
window (domain.uploads)."""

from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mlops_common.adapters import factories
from mlops_common.domain.uploads import record_upload
from mlops_common.handler import handler
from mlops_common.models import RecordUploadInput, RecordUploadOutput
from mlops_common.observability import logger, metrics
from mlops_common.settings import RecordUploadSettings

settings = RecordUploadSettings()


@handler(model=RecordUploadInput)
def lambda_handler(request: RecordUploadInput, context: LambdaContext) -> RecordUploadOutput:
    result = record_upload(
        request.event,
        settings,
        factories.ledger(settings),
        factories.schedules(settings.schedule_group),
        factories.executions(),
        datetime.now(UTC),
    )
    metrics.add_metric(name=f"Uploads{result.outcome.title()}", unit=MetricUnit.Count, value=1)
    logger.info("upload recorded", extra=result.model_dump(mode="json", exclude_none=True))
    return result
