"""One dataset version as a run reads it: a single object directly under DataPrefix, or a
dataset in parts, and the run's snapshot of exactly what was checked.

A dataset in parts is a folder under DataPrefix completed by a marker object `_SUCCESS` (what
Hadoop and Spark jobs write when they finish): the marker's version is the dataset version, and
its parts are the objects directly in the folder, except the marker, folder placeholders (keys
ending in "/") and hidden files (names starting with "_" or ".", as Hadoop treats them). Every
part is checked against the contract, all with the same header; the class, row and size rules
apply to the parts together. The parts are pinned to the version current when the run read them
(HeadObject's VersionId), copied into `runs/<run>/data/` (the training channel is that folder),
and listed with their versions in `runs/<run>/data_parts.json`, which the lineage names.

Objects in a sub-folder start nothing by themselves (the NewDataset rule's event pattern lets
only the marker through); one that reaches a run anyway (a replayed event, a retrain request
naming it) is refused by name.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..adapters.s3 import S3Store
from ..errors import DatasetInvalid, EventMalformed
from ..models import DatasetLocation, DatasetRef
from ..settings import ValidateDatasetSettings
from .dataset import check_totals, scan_csv
from .feature_schema import differ
from .labels import LabelRules

MARKER = "_SUCCESS"
#: Most parts one dataset may have: each is read and copied by the one function invocation.
MAX_PARTS = 1000


@dataclass(frozen=True)
class Part:
    key: str
    version_id: str | None
    etag: str
    size: int


@dataclass(frozen=True)
class Checked:
    """The version as the contract read it."""

    location: DatasetLocation
    version_id: str | None
    etag: str
    size: int
    rows: int
    features: list[str]  # the header without the label, in order
    written: str  # when the version (the marker, for parts) was written
    parts: list[Part] = field(default_factory=list)  # empty: a single-file dataset


def is_marker(key: str) -> bool:
    return key.rsplit("/", 1)[-1] == MARKER


def folder_marker(uri: str) -> str:
    """Why a key ending in "/" starts nothing: S3 "folders" are zero-byte objects whose key ends
    in "/" ("Organizing objects in the Amazon S3 console by using folders", Amazon S3 user
    guide), never a dataset."""
    return f"{uri} is a folder marker, not a dataset"


def check_location(location: DatasetLocation, data_bucket: str, data_prefix: str) -> None:
    """EventMalformed for an object outside the stack's data bucket and prefix."""
    if location.bucket != data_bucket or not location.key.startswith(data_prefix):
        raise EventMalformed(
            f"{location.uri} is outside this stack's data location s3://{data_bucket}/{data_prefix}"
        )


def refuse_parts(location: DatasetLocation, data_prefix: str) -> None:
    """DatasetInvalid for an object in a sub-folder of DataPrefix other than its marker."""
    inside = location.key[len(data_prefix) :]
    if "/" in inside and not is_marker(location.key):
        folder = location.key.rsplit("/", 1)[0] + "/"
        raise DatasetInvalid(
            f"{location.uri} is a part of the dataset in s3://{location.bucket}/{folder}: "
            f"parts start no run; the folder's {MARKER} marker does"
        )


def check_version(
    location: DatasetLocation, etag: str | None, settings: ValidateDatasetSettings, store: S3Store
) -> Checked:
    """The version at `location` (pinned by version id, else by `etag`), or DatasetInvalid."""
    head = store.head(location.bucket, location.key, location.version_id)
    if head is None:
        raise DatasetInvalid("the object version no longer exists")
    found = head["ETag"].strip('"')
    if etag and not location.version_id and found != etag:
        raise DatasetInvalid(f"the object changed since the event (etag now {found})")
    written = head.get("LastModified")
    own = {
        "location": location,
        "version_id": location.version_id or head.get("VersionId"),
        "etag": found,
        "written": written.isoformat() if isinstance(written, datetime) else str(written),
    }
    rules = LabelRules(settings.problem_type, settings.positive_label, settings.max_classes)
    if is_marker(location.key):
        return _check_parts(own, settings, rules, store)
    size = int(head["ContentLength"])
    _check_size(size, settings)
    single = Part(location.key, location.version_id, found, size)
    scan = _scan(store, location.bucket, single, settings, rules)
    check_totals(settings.label_column, rules, settings.min_rows, scan.rows, scan.classes)
    features = [name for name in scan.header if name != settings.label_column]
    return Checked(size=size, rows=scan.rows, features=features, **own)


def snapshot(
    checked: Checked, run_id: str, settings: ValidateDatasetSettings, store: S3Store
) -> DatasetRef:
    """The checked version copied into the run's prefix, or DatasetInvalid if any is gone."""
    bucket = checked.location.bucket
    folder = f"runs/{run_id}/data/"
    single = Part(checked.location.key, checked.location.version_id, checked.etag, checked.size)
    for part in checked.parts or [single]:
        copied = store.copy_version(
            (bucket, part.key),
            part.version_id,
            part.etag,
            (settings.artifacts_bucket, folder + _snapshot_name(part.key)),
        )
        if copied is None:
            raise DatasetInvalid(f"{_name(part.key)}: the object version no longer exists")
    manifest = None
    if checked.parts:
        manifest = f"s3://{settings.artifacts_bucket}/runs/{run_id}/data_parts.json"
        store.put_json(manifest, {"dataset": checked.location.uri, "version_id":
                       checked.version_id, "parts": [vars(p) for p in checked.parts]})  # fmt: skip
    return DatasetRef(
        bucket=bucket,
        key=checked.location.key,
        version_id=checked.version_id,
        etag=checked.etag,
        size=checked.size,
        rows=checked.rows,
        features=len(checked.features),
        label=settings.label_column,
        # parts: the folder is the snapshot; a single file: the copy itself
        snapshot_uri=f"s3://{settings.artifacts_bucket}/{folder}"
        + ("" if checked.parts else _snapshot_name(checked.location.key)),
        parts=len(checked.parts) or None,
        parts_manifest_uri=manifest,
    )


def _check_parts(
    own: dict[str, Any], settings: ValidateDatasetSettings, rules: LabelRules, store: S3Store
) -> Checked:
    location: DatasetLocation = own["location"]
    folder = location.key[: -len(MARKER)]
    listed = [
        obj
        for obj in store.objects(location.bucket, folder)
        if "/" not in obj["Key"][len(folder) :] and not _name(obj["Key"]).startswith(("_", "."))
    ]
    if not listed:
        raise DatasetInvalid(f"the folder s3://{location.bucket}/{folder} has no parts")
    if len(listed) > MAX_PARTS:
        raise DatasetInvalid(f"{len(listed)} parts; the contract allows at most {MAX_PARTS}")
    size = sum(int(obj["Size"]) for obj in listed)
    if size > settings.max_dataset_bytes:
        raise DatasetInvalid(
            f"{size} bytes in {len(listed)} parts; the limit is {settings.max_dataset_bytes}"
        )
    parts, header, rows, classes = [], None, 0, None
    for obj in sorted(listed, key=lambda o: o["Key"]):
        head = store.head(location.bucket, obj["Key"])
        if head is None:
            raise DatasetInvalid(f"part {_name(obj['Key'])} no longer exists")
        part = Part(obj["Key"], head.get("VersionId"), head["ETag"].strip('"'),
                    int(head["ContentLength"]))  # fmt: skip
        scan = _scan(store, location.bucket, part, settings, rules, f"part {_name(part.key)}: ")
        if header is None:
            header, classes = scan.header, scan.classes
        elif scan.header != header:
            raise DatasetInvalid(
                f"part {_name(part.key)}: its header differs from part "
                f"{_name(parts[0].key)}'s: {differ(header, scan.header)}"
            )
        else:
            classes.update(scan.classes)
        rows += scan.rows
        parts.append(part)
    assert header is not None and classes is not None
    check_totals(settings.label_column, rules, settings.min_rows, rows, classes)
    features = [name for name in header if name != settings.label_column]
    return Checked(size=size, rows=rows, features=features, parts=parts, **own)


def _scan(
    store: S3Store,
    bucket: str,
    part: Part,
    settings: ValidateDatasetSettings,
    rules: LabelRules,
    where: str = "",
) -> Any:
    """The scan of one object (`where`: how messages name it, "" for a single file)."""
    if part.size == 0:
        raise DatasetInvalid(f"{where}the file is empty")
    body = store.open(bucket, part.key, part.version_id, part.etag)
    if body is None:
        raise DatasetInvalid(f"{where}the object version no longer exists")
    try:
        with body:
            return scan_csv(body, settings.label_column, rules)
    except DatasetInvalid as exc:
        raise DatasetInvalid(f"{where}{exc}") from exc


def _check_size(size: int, settings: ValidateDatasetSettings) -> None:
    if size == 0:
        raise DatasetInvalid("the file is empty")
    if size > settings.max_dataset_bytes:
        raise DatasetInvalid(f"{size} bytes; the limit is {settings.max_dataset_bytes}")


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _snapshot_name(key: str) -> str:
    """The object's file name; the training scripts read the *.csv files of their input."""
    name = _name(key)
    return name if name.endswith(".csv") else f"{name}.csv"
