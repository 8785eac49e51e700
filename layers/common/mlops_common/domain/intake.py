"""Starting a training run (design decision D1): what the execution input asks for, the dataset
version it names, the run's business key in the ledger, the dataset check and the run's own
snapshot of exactly the version it checked.

Order matters:
1. the input names an object version (an upload; a retrain request, "latest" resolved here so
   every caller gets the same answer; a burst: the newest upload of the prefix, domain.uploads,
   whose burst is accounted for once the run took it); a folder marker is skipped before
   anything is claimed;
2. the run claims its business key, so a replay or a handled version ends before any read; a
   claim still RUNNING whose execution has ended (a crash, a timeout, an abort) is taken over;
3. the version is checked against the contract, streamed; a rejection is recorded under the key
   (status REJECTED with the reason, claimable again) before DatasetInvalid ends the run;
4. the version is copied server-side into `runs/<run id>/data/`, and the jobs read that copy
   alone: an overwrite of the key or a look-alike key (`a.csv_x.csv` next to `a.csv`) cannot
   reach them, and the lineage names the version that was checked.
"""

import itertools
from dataclasses import dataclass, replace
from typing import Any

from ..adapters.executions import Executions
from ..adapters.ledger import RUNNING, Ledger
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..errors import DatasetInvalid, EventMalformed
from ..models import (
    BurstStart,
    DatasetLocation,
    DatasetUpload,
    Execution,
    RetrainRequest,
    RunContext,
    RunTrigger,
    ValidateDatasetOutput,
)
from ..settings import ValidateDatasetSettings
from . import feature_schema, uploads
from .champion import champion
from .dataset_version import (
    MARKER,
    check_location,
    check_version,
    folder_marker,
    refuse_parts,
    snapshot,
)
from .events import parse_training_start

#: Ledger pointer to the newest dataset version a run of this stack went on to train with.
LATEST_DATASET = "pointer#latest-dataset"


@dataclass(frozen=True)
class Target:
    """The object version a run is asked to train on, and why."""

    location: DatasetLocation
    etag: str | None
    trigger: RunTrigger
    request: RetrainRequest | None = None

    @property
    def version(self) -> str | None:
        """What tells this content apart: the version id, else (unversioned) the ETag."""
        return self.location.version_id or self.etag

    @property
    def business_key(self) -> str:
        return f"dataset#{self.location.uri}#{self.version}"

    def describe(self) -> str:
        if self.location.version_id:
            return f"{self.location.uri} version {self.location.version_id}"
        return f"{self.location.uri} (etag {self.etag})" if self.etag else self.location.uri


def start_training_run(
    event: Any,
    execution: Execution,
    settings: ValidateDatasetSettings,
    store: S3Store,
    registry: ModelRegistry,
    ledger: Ledger,
    executions: Executions,
) -> ValidateDatasetOutput:
    """Resolves, claims, checks and snapshots the dataset version; finds the champion."""
    start = parse_training_start(event)
    burst = start if isinstance(start, BurstStart) else None
    if burst is not None:  # coalesced uploads: the newest of the prefix (domain.uploads)
        newest = uploads.newest(burst, ledger)
        if newest is None:
            return ValidateDatasetOutput(action="SKIP", reason=f"no upload under {burst.uri}")
        start = newest
    if isinstance(start, DatasetUpload) and start.key.endswith("/"):
        return ValidateDatasetOutput(action="SKIP", reason=folder_marker(start.uri))
    if isinstance(start, DatasetUpload):
        target = _upload_target(start)
    else:
        target = _retrain_target(start, settings, store, ledger)
    check_location(target.location, settings.data_bucket, settings.data_prefix)
    refuse_parts(target.location, settings.data_prefix)
    target = _pinned(target, store)
    key, target, holder = _claim(target, execution, ledger, executions)
    if holder is not None:
        if burst is not None:
            uploads.settle(burst, newest, ledger, holder["run_id"], holder.get("execution_arn"))
        return ValidateDatasetOutput(action="SKIP", reason=_handled(target, holder))
    try:
        run = _prepared(key, target, execution, settings, store, registry, ledger)
    except DatasetInvalid as exc:
        ledger.reject(key, execution.name, str(exc))
        if burst is not None:
            uploads.settle(burst, newest, ledger, execution.name, execution.id, uploads.REJECTED)
        raise DatasetInvalid(f"{target.describe()}: {exc}") from exc
    except Exception as exc:
        # No run is in the state for RecordOutcome to finish: free the key here, or a replay
        # would be told the version was handled by a run that failed.
        ledger.finish(key, execution.name, "FAILED", {"error": type(exc).__name__})
        raise
    if burst is not None:
        uploads.settle(burst, newest, ledger, execution.name, execution.id)
    reason = "new dataset version" if target.trigger.kind == "upload" else "retrain requested"
    return ValidateDatasetOutput(action="TRAIN", reason=reason, run=run)


# ---- what the input names ---------------------------------------------------------------------


def _upload_target(upload: DatasetUpload) -> Target:
    location = DatasetLocation(bucket=upload.bucket, key=upload.key, version_id=upload.version_id)
    trigger = RunTrigger(kind="upload", attempt=1, requested_by=upload.requester)
    return Target(location, upload.etag, trigger)


def _retrain_target(
    request: RetrainRequest, settings: ValidateDatasetSettings, store: S3Store, ledger: Ledger
) -> Target:
    trigger = RunTrigger(
        kind=request.trigger,
        attempt=1,
        forced=request.force,
        request_id=request.request_id,
        reason=request.reason,
        requested_by=request.requested_by,
    )
    if isinstance(request.dataset, DatasetLocation):
        location = request.dataset
        if location.key.endswith("/"):
            raise EventMalformed(f"{location.uri} is a folder, not a dataset")
        return Target(location, None, trigger, request)
    pointer = ledger.pointer(LATEST_DATASET)
    if pointer is not None:
        location = DatasetLocation(
            bucket=pointer["bucket"], key=pointer["key"], version_id=pointer.get("version_id")
        )
        return Target(location, pointer.get("etag"), trigger, request)
    newest = store.newest_object(settings.data_bucket, settings.data_prefix)
    if newest is None:
        raise DatasetInvalid(
            f"nothing to retrain: no dataset under s3://{settings.data_bucket}/"
            f"{settings.data_prefix}"
        )
    key = newest["Key"]
    if "/" in key[len(settings.data_prefix) :]:  # a part: the dataset is its folder's
        key = key.rsplit("/", 1)[0] + "/" + MARKER
    location = DatasetLocation(bucket=settings.data_bucket, key=key)
    return Target(location, None, trigger, request)


def _pinned(target: Target, store: S3Store) -> Target:
    """A target naming an object without its version gets the version current now."""
    if target.version is not None:
        return target
    head = store.head(target.location.bucket, target.location.key)
    if head is None:
        raise DatasetInvalid(f"{target.location.uri} does not exist")
    location = target.location.model_copy(update={"version_id": head.get("VersionId")})
    return replace(target, location=location, etag=head["ETag"].strip('"'))


# ---- the business key -------------------------------------------------------------------------


def _claim(
    target: Target, execution: Execution, ledger: Ledger, executions: Executions
) -> tuple[str, Target, dict[str, Any] | None]:
    """(key, target with its attempt, holder or None). An upload and a plain retrain claim the
    version's key: a handled version is not trained again. A forced retrain claims the first
    attempt key free of other requests: `<dataset key>` (attempt 1) or `<dataset key>#attempt#N`.
    Its own earlier attempt (a replayed request) is the holder it ends on. A claim left
    RUNNING by an execution that has ended is taken over (`_stale`)."""
    trigger = target.trigger
    attributes: dict[str, Any] = {
        "execution_arn": execution.id,
        "kind": "training",
        "trigger": trigger.kind,
        "dataset_uri": target.location.uri,
        "dataset_version": target.version,
    } | {
        name: value
        for name, value in (
            ("requested_by", trigger.requested_by),
            ("reason", trigger.reason),
            ("request_id", trigger.request_id),
        )
        if value
    }
    if target.request is None or not target.request.force:
        key, attributes = target.business_key, attributes | {"attempt": 1}
        holder = ledger.claim(key, execution.name, attributes)
        stale = _stale(holder, execution, executions)
        if stale is not None:
            holder = ledger.claim(key, execution.name, attributes | stale, holder["run_id"])
        return key, target, holder
    request_id = target.request.request_id
    for attempt in itertools.count(1):
        key = target.business_key + ("" if attempt == 1 else f"#attempt#{attempt}")
        attributes_n = attributes | {"attempt": attempt, "forced": True}
        holder = ledger.claim_attempt(key, execution.name, request_id, attributes_n)
        mine = holder is not None and holder.get("request_id") == request_id
        stale = _stale(holder, execution, executions) if mine else None
        if stale is not None:
            holder = ledger.claim_attempt(
                key, execution.name, request_id, attributes_n | stale, holder["run_id"]
            )
        attempted = replace(target, trigger=trigger.model_copy(update={"attempt": attempt}))
        if holder is None or holder.get("request_id") == request_id:
            return key, attempted, holder
    raise AssertionError("unreachable")  # pragma: no cover


def _stale(
    holder: dict[str, Any] | None, execution: Execution, executions: Executions
) -> dict[str, Any] | None:
    """If `holder` is a claim still RUNNING for an execution that is no longer RUNNING (it
    crashed, timed out or was aborted without closing its claim), the attributes a take-over
    records; else None. Step Functions keeps an ended execution's status (DescribeExecution),
    so a crash never leaves a version that only a new upload could train."""
    if holder is None or holder.get("status") != RUNNING:
        return None
    arn = holder.get("execution_arn")
    if not arn or arn == execution.id:
        return None
    status = executions.status(arn)
    if status == "RUNNING":
        return None
    return {"took_over_from": arn, "took_over_because": f"it ended {status or 'and is gone'}"}


def _handled(target: Target, holder: dict[str, Any]) -> str:
    by = f"run {holder['run_id']} ({holder['status']})"
    if target.request is not None and holder.get("request_id") == target.request.request_id:
        return f"retrain request {target.request.request_id} was already handled by {by}"
    version = target.location.version_id or target.etag
    return f"{target.location.uri} version {version} was already handled by {by}"


# ---- the check and the snapshot ---------------------------------------------------------------


def _prepared(
    key: str,
    target: Target,
    execution: Execution,
    settings: ValidateDatasetSettings,
    store: S3Store,
    registry: ModelRegistry,
    ledger: Ledger,
) -> RunContext:
    """The run, once its version is checked against the contract and the champion's feature
    schema, and snapshotted (and the latest pointer moved)."""
    checked = check_version(target.location, target.etag, settings, store)
    compare_with, schema_change = feature_schema.judge(
        checked.features, champion(registry), settings.model_package_group, store, ledger
    )
    dataset = snapshot(checked, execution.name, settings, store)
    if checked.parts:  # the part list with versions, beside the run's ledger item
        ledger.append(key, {"kind": "dataset_parts", "run_id": execution.name,
                            "parts": [vars(part) for part in checked.parts]})  # fmt: skip
    ledger.point(
        LATEST_DATASET,
        checked.written,
        {"bucket": dataset.bucket, "key": dataset.key, "version_id": dataset.version_id,
         "etag": dataset.etag, "run_id": execution.name},
    )  # fmt: skip
    return RunContext(
        run_id=execution.name,
        execution_arn=execution.id,
        dataset=dataset,
        candidates=settings.candidates,
        champion=compare_with,
        trigger=target.trigger,
        ledger_key=None if key == dataset.business_key else key,
        code_version=target.request.code_version if target.request else None,
        schema_change=schema_change,
    )
