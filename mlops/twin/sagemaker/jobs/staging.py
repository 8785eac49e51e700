"""S3 staging for twin jobs: what the SageMaker platform does around the container.

Downloads channel / processing inputs before the container starts and uploads artifacts after it
exits, through the twin's S3 (a boto3 client bound to the local endpoint). An object lands
under its key relative to the input's prefix; a key whose path would leave the input directory
(`../` segments, an absolute path after the prefix) fails the job before anything is written.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.twin.aws import s3_uri
from mlops.twin.sagemaker.jobs.common import JobFailure


def split_s3_uri(uri: str) -> tuple[str, str]:
    try:
        return s3_uri.split_s3_uri(uri)
    except s3_uri.S3UriError as error:
        raise JobFailure(f"ClientError: {error}") from error


def stage_prefix(s3: Any, uri: str, destination: Path) -> list[Path]:
    """S3Prefix input: every object under the prefix, keeping names relative to the prefix.

    s3://b/data, s3://b/data/ (objects data/x.csv) and s3://b/data/x.csv (one object) all put
    x.csv directly in `destination`, as SageMaker does for a channel / processing input.
    """
    bucket, prefix = split_s3_uri(uri)
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    except ClientError as error:
        message = f"ClientError: Data download failed: cannot list {uri}: {error}"
        raise JobFailure(message) from error
    if not keys:
        raise JobFailure(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists and that objects exist under that S3 prefix."
        )
    targets = [(key, inside(destination, relative_name(prefix, key), key)) for key in keys]
    return [_download(s3, bucket, key, target) for key, target in targets]


def relative_name(prefix: str, key: str) -> str:
    """Where an object listed under `prefix` lands, relative to the input directory."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    if prefix.endswith("/") or key.startswith(prefix + "/"):
        return key[len(prefix) :].lstrip("/")
    # partial name ('data/tr' matching 'data/train.csv'): relative to the prefix's folder
    return key[len(prefix.rsplit("/", 1)[0]) + 1 :] if "/" in prefix else key


def stage_object(s3: Any, uri: str, destination: Path) -> Path:
    """One object, landing under its own file name in `destination`."""
    bucket, key = split_s3_uri(uri)
    return _download(s3, bucket, key, inside(destination, key.rsplit("/", 1)[-1], key))


def inside(destination: Path, relative: str, key: str) -> Path:
    """`destination / relative`, refused (JobFailure) unless it resolves to a file inside
    `destination`: S3 keys may hold `..` segments, file systems follow them."""
    root = destination.resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise JobFailure(
            f"ClientError: Data download failed: S3 key {key!r} would be written outside the "
            "input directory; the twin refuses keys whose path leaves it."
        )
    return target


def _download(s3: Any, bucket: str, key: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        s3.download_file(bucket, key, str(target))
    except ClientError as error:
        raise JobFailure(
            f"ClientError: Data download failed: could not download s3://{bucket}/{key}: {error}"
        ) from error
    return target


def has_files(directory: Path) -> bool:
    return directory.is_dir() and any(p.is_file() for p in directory.rglob("*"))


def tar_directory(directory: Path, archive: Path) -> Path:
    """tar.gz with the directory's contents at the archive root (as SageMaker packs model/)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return archive


def upload_file(s3: Any, source: Path, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    try:
        s3.upload_file(str(source), bucket, key)
    except ClientError as error:
        raise JobFailure(f"ClientError: upload to {uri} failed: {error}") from error
    return uri


def upload_directory(s3: Any, directory: Path, uri: str) -> list[str]:
    """ProcessingOutput (EndOfJob): every file under LocalPath to S3Uri/<relative path>."""
    return [
        upload_file(s3, path, s3_uri.join_s3_uri(uri, path.relative_to(directory).as_posix()))
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    ]
