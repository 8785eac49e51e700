"""Bursts of uploads coalesce into one run (README, "Bursts of uploads").

RecordUpload (`record_upload`) receives every upload the NewDataset rule lets through and
1. parses the event (EventMalformed otherwise: the invocation fails, and Lambda sends the event
   to the function's dead-letter queue once its retries are spent);
2. records the upload in the ledger, once: `uploads#s3://<bucket>/<prefix>` / `upload#<key>#
   <version>`, status PENDING (or REFUSED with the reason, for what ValidateDataset would refuse:
   a folder marker, a part, an object outside the data location) with its bucket, key, version,
   ETag, size, sequencer and event time. A second delivery of the same version (a replay from
   the archive, a retried delivery) finds the item, counts itself on it (`replays`) and starts
   nothing for an upload already trained or superseded;
3. moves the prefix's "latest upload" pointer to it unless the pointer already names a later
   upload (a conditional write on `order`, below), so out-of-order deliveries keep the newest;
4. pushes the prefix's one-time schedule to at(now + QuietWindowSeconds), rounded up to the
   second (UpdateSchedule, or CreateSchedule), whose target starts the TrainingPipeline with
   `{"burst": {...}}` (models.BurstStart); with QuietWindowSeconds 0 it starts that execution
   itself.
When the window passes without another upload, the schedule fires once and deletes itself. The
run (ValidateDataset, domain.intake) trains the newest upload (`newest`), claiming its business
key as any upload run does, and `settle` marks it TRAINED (or REJECTED, when it breaks the
contract) and every older PENDING upload of the prefix SUPERSEDED, naming the run.

Order of uploads: the event time (S3 records it to the second), then the sequencer. The S3 user
guide ("Event message structure") says a greater sequencer is a later event of the same key
only; for two keys written within one second the sequencer is a tie-break, not a fact.
"""

import hashlib
import json
import math
from datetime import datetime, timedelta
from typing import Any

from ..adapters.executions import Executions
from ..adapters.ledger import RECLAIMABLE, RUNNING, Ledger
from ..adapters.schedules import Schedules
from ..errors import DatasetInvalid, EventMalformed
from ..models import BurstStart, DatasetLocation, DatasetUpload, RecordUploadOutput
from ..settings import RecordUploadSettings
from .dataset_version import check_location, folder_marker, refuse_parts
from .events import parse_s3_upload

PENDING, TRAINED, SUPERSEDED, REFUSED, REJECTED = (
    "PENDING",
    "TRAINED",
    "SUPERSEDED",
    "REFUSED",
    "REJECTED",
)
#: Scheduler's target retries and age bound (RetryPolicy, EventBridge Scheduler API reference).
RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}


# ---- keys -------------------------------------------------------------------------------------


def uploads_key(bucket: str, prefix: str) -> str:
    return f"uploads#s3://{bucket}/{prefix}"


def latest_key(bucket: str, prefix: str) -> str:
    return f"pointer#latest-upload#s3://{bucket}/{prefix}"


def upload_sk(upload: DatasetUpload) -> str:
    return f"upload#{upload.key}#{upload.version}"


def order_of(upload: DatasetUpload) -> str:
    """A string that sorts uploads oldest first: event time, then the sequencer as a number
    (left-padded to 32 hex digits, so "0A" < "100" as numbers compare)."""
    sequencer = (upload.sequencer or "0").strip().upper()
    try:
        number = int(sequencer, 16)
    except ValueError:
        number = 0
    return f"{upload.event_time or ''}#{number:032X}"


def schedule_name(bucket: str, prefix: str) -> str:
    """One schedule per data prefix; names are at most 64 of [0-9a-zA-Z-_.] (CreateSchedule)."""
    return "burst-" + hashlib.sha256(f"{bucket}/{prefix}".encode()).hexdigest()[:32]


def fire_time(now: datetime, window_s: int) -> str:
    """at() takes whole seconds: now + window rounded up, so the window is never shorter."""
    moment = now + timedelta(seconds=window_s)
    whole = moment.replace(microsecond=0) + timedelta(seconds=math.ceil(moment.microsecond / 1e6))
    return whole.strftime("%Y-%m-%dT%H:%M:%S")


# ---- RecordUpload -----------------------------------------------------------------------------


def refusal_of(upload: DatasetUpload, settings: RecordUploadSettings) -> str | None:
    """Why ValidateDataset would refuse the object (same checks, same words), or None."""
    if upload.key.endswith("/"):
        return folder_marker(upload.uri)
    location = DatasetLocation(bucket=upload.bucket, key=upload.key, version_id=upload.version_id)
    try:
        check_location(location, settings.data_bucket, settings.data_prefix)
        refuse_parts(location, settings.data_prefix)
    except (EventMalformed, DatasetInvalid) as exc:
        return str(exc)
    return None


def record_upload(
    event: Any,
    settings: RecordUploadSettings,
    ledger: Ledger,
    schedules: Schedules,
    executions: Executions,
    now: datetime,
) -> RecordUploadOutput:
    upload = parse_s3_upload(event)
    named = f"{upload.uri}#{upload.version}"
    refusal = refusal_of(upload, settings)
    pk, sk = uploads_key(settings.data_bucket, settings.data_prefix), upload_sk(upload)
    facts = {"bucket": upload.bucket, "key": upload.key, "version_id": upload.version_id,
             "etag": upload.etag, "size": upload.size, "sequencer": upload.sequencer,
             "event_time": upload.event_time, "event_id": upload.event_id,
             "requester": upload.requester, "order": order_of(upload)}  # fmt: skip
    status = REFUSED if refusal else PENDING
    before = ledger.record_upload(pk, sk, facts | {"status": status, "reason": refusal})
    if before is not None:
        ledger.note_replay(pk, sk, {"event_id": upload.event_id, "replay_name":
                                    upload.replay_name, "at": now.isoformat()})  # fmt: skip
        handled = _handled(before, upload, settings, ledger, executions)
        if handled is not None:
            return RecordUploadOutput(outcome="ALREADY_HANDLED", upload=named, reason=handled)
    elif refusal:
        return RecordUploadOutput(outcome="REFUSED", upload=named, reason=refusal)
    newest = ledger.point(
        latest_key(settings.data_bucket, settings.data_prefix),
        facts["order"],
        {k: v for k, v in facts.items() if k != "order"} | {"upload_sk": sk},
    )
    return _start(upload, named, newest, settings, schedules, executions, now)


def _handled(
    before: dict[str, Any],
    upload: DatasetUpload,
    settings: RecordUploadSettings,
    ledger: Ledger,
    executions: Executions,
) -> str | None:
    """Why a repeated delivery starts nothing, or None when it must go on: the upload is still
    PENDING (its run has not settled it yet), or it is the newest upload and its run failed, was
    rejected or ended without closing its claim (a replay re-drives it, as before coalescing;
    with a quiet window, only the newest upload: a burst run trains the newest)."""
    status = before.get("status")
    if status == REFUSED:
        return f"refused when first recorded: {before.get('reason')}"
    if status == SUPERSEDED:
        return (
            f"already superseded by run {before.get('run_id')} "
            f"(which trained {before.get('superseded_by')})"
        )
    if status == PENDING:
        return None
    claim = ledger.claimed(f"dataset#{upload.uri}#{upload.version}") or {}
    ended = claim.get("status") in RECLAIMABLE or (
        claim.get("status") == RUNNING
        and executions.status(str(claim.get("execution_arn"))) != "RUNNING"
    )
    newest = ledger.pointer(latest_key(settings.data_bucket, settings.data_prefix)) or {}
    if not ended:
        return f"already {str(status).lower()} by run {before.get('run_id')}"
    if newest.get("upload_sk") != upload_sk(upload) and settings.quiet_window_seconds > 0:
        return (
            f"its run {before.get('run_id')} ended {claim.get('status')}, and it is no longer "
            "the newest upload: `mlops retrain` trains it again"
        )
    pk, sk = uploads_key(settings.data_bucket, settings.data_prefix), upload_sk(upload)
    ledger.settle_upload(pk, sk, PENDING, {"redriven_from": before.get("run_id")}, str(status))
    return None


def burst_input(
    settings: RecordUploadSettings, started_by: str, upload: DatasetUpload | None = None
) -> dict[str, Any]:
    burst: dict[str, Any] = {"bucket": settings.data_bucket, "prefix": settings.data_prefix,
                             "started_by": started_by}  # fmt: skip
    if started_by == "schedule":  # context attributes Scheduler fills in at each invocation
        burst |= {"schedule_arn": "<aws.scheduler.schedule-arn>",
                  "scheduled_time": "<aws.scheduler.scheduled-time>"}  # fmt: skip
    if upload is not None:
        burst["upload"] = {"key": upload.key, "version": upload.version}
    return {"burst": BurstStart.model_validate(burst).model_dump(mode="json", exclude_none=True)}


def _start(
    upload: DatasetUpload,
    named: str,
    newest: bool,
    settings: RecordUploadSettings,
    schedules: Schedules,
    executions: Executions,
    now: datetime,
) -> RecordUploadOutput:
    if settings.quiet_window_seconds == 0:
        # Named after the event: a retried delivery of it finds its execution.
        name = "upload-" + hashlib.sha256(f"{named}#{upload.event_id}".encode()).hexdigest()[:40]
        payload = json.dumps(burst_input(settings, "upload", upload))
        arn, started = executions.start(settings.training_pipeline_arn, name, payload)
        reason = "started a run" if started else "its run was already started"
        return RecordUploadOutput(
            outcome="STARTED", upload=named, reason=reason, newest=newest, execution_arn=arn
        )
    at = fire_time(now, settings.quiet_window_seconds)
    target = {
        "Arn": settings.training_pipeline_arn,
        "RoleArn": settings.scheduler_role_arn,
        "Input": json.dumps(burst_input(settings, "schedule")),
        "RetryPolicy": RETRY_POLICY,
        "DeadLetterConfig": {"Arn": settings.dead_letter_queue_arn},
    }
    done = schedules.upsert_one_time(
        schedule_name(settings.data_bucket, settings.data_prefix), at, target
    )
    return RecordUploadOutput(
        outcome="SCHEDULED",
        upload=named,
        reason=f"the prefix's run starts at {at} UTC unless another upload comes first ({done})",
        newest=newest,
        fires_at=at,
    )


# ---- the run's side (ValidateDataset, domain.intake) ----------------------------------------


def newest(burst: BurstStart, ledger: Ledger) -> DatasetUpload | None:
    """The upload the burst names, else the newest recorded under its prefix, as its event
    described it."""
    if burst.upload is not None:
        sk = f"upload#{burst.upload.key}#{burst.upload.version}"
        item = ledger.recorded_upload(uploads_key(burst.bucket, burst.prefix), sk)
    else:
        item = ledger.pointer(latest_key(burst.bucket, burst.prefix))
    if item is None:
        return None
    fields = DatasetUpload.model_fields
    return DatasetUpload.model_validate({k: v for k, v in item.items() if k in fields})


def settle(
    burst: BurstStart,
    trained: DatasetUpload,
    ledger: Ledger,
    run_id: str,
    execution_arn: str | None,
    status: str = TRAINED,
) -> dict[str, int]:
    """Accounts for the burst: the upload the run took (`trained`, the newest when it started)
    `status` (TRAINED, or REJECTED) by the run, every older PENDING upload of the prefix
    SUPERSEDED by it (not when the input named its upload: each upload has its own run then).
    Uploads newer than it stay PENDING: their schedule starts the next run. Counts by status."""
    newest_sk, newest_order = upload_sk(trained), order_of(trained)
    pk = uploads_key(burst.bucket, burst.prefix)
    by_run = {"run_id": run_id, "execution_arn": execution_arn}
    counts: dict[str, int] = {}
    for upload in ledger.uploads(pk, PENDING):
        if upload["sk"] == newest_sk:
            ending, attributes = status, by_run
        elif burst.upload is None and str(upload.get("order", "")) <= newest_order:
            superseded_by = f"{trained.uri}#{trained.version}"
            ending, attributes = SUPERSEDED, by_run | {"superseded_by": superseded_by}
        else:
            continue
        if ledger.settle_upload(pk, upload["sk"], ending, attributes, PENDING):
            counts[ending] = counts.get(ending, 0) + 1
    return counts
