"""RecordUpload handler: the NewDataset rule's target, invoked with the rule's event whole
(events/functions/record_upload.json)."""

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_common.errors import EventMalformed

ROOT = Path(__file__).resolve().parents[3]
GROUP = "mlops-uploads"  # SCHEDULE_GROUP of the functions' test environment
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def sample_event(stack: Any) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / "functions" / "record_upload.json").read_text())
    event["detail"]["bucket"]["name"] = stack.data_bucket
    return event


def test_an_upload_is_recorded_and_schedules_the_run_saying_so_in_one_log_line(
    load_handler: Any, stack: Any, aws: Any, lambda_context: Any, printed: Any
) -> None:
    aws.client("scheduler").create_schedule_group(Name=GROUP)
    handler = load_handler("record_upload")
    output = handler.lambda_handler(sample_event(stack), lambda_context)
    assert output["outcome"] == "SCHEDULED" and output["newest"] is True
    listed = aws.client("scheduler").list_schedules(GroupName=GROUP)
    assert len(listed["Schedules"]) == 1
    (line,) = [log for log in printed().logs if log["message"] == "upload recorded"]
    assert (line["outcome"], line["fires_at"]) == ("SCHEDULED", output["fires_at"])
    assert line["correlation_id"] == sample_event(stack)["id"]


def test_a_malformed_event_fails_the_invocation_with_event_malformed(
    load_handler: Any, stack: Any, lambda_context: Any
) -> None:
    handler = load_handler("record_upload")
    event = sample_event(stack) | {"detail-type": "Object Deleted"}
    with pytest.raises(EventMalformed, match="unexpected aws.s3 / Object Deleted event"):
        handler.lambda_handler(event, lambda_context)
