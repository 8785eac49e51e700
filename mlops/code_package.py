"""Publishes ml/ where the SageMaker jobs and models expect it (template parameter CodeVersion):

    s3://ARTIFACTS/code/VERSION/sourcedir.tar.gz   script-mode source (training, hosting)
    s3://ARTIFACTS/code/VERSION/src/<file>         the same files, a Processing input

The same function serves a real account (`mlops publish-code`) and the twin.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

# Data and tooling are not part of the job's source directory.
EXCLUDED = {"data", "__pycache__", "export_dataset.py"}


def source_files(ml_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in ml_dir.iterdir()
        if p.is_file() and p.name not in EXCLUDED and not p.name.startswith(".")
    )


def sourcedir_tarball(ml_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in source_files(ml_dir):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def publish_code(s3: Any, bucket: str, version: str, ml_dir: Path) -> list[str]:
    """Uploads the tarball and the files; returns the S3 URIs written."""
    prefix = f"code/{version}"
    written = []
    s3.put_object(Bucket=bucket, Key=f"{prefix}/sourcedir.tar.gz", Body=sourcedir_tarball(ml_dir))
    written.append(f"s3://{bucket}/{prefix}/sourcedir.tar.gz")
    for path in source_files(ml_dir):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/src/{path.name}", Body=path.read_bytes())
        written.append(f"s3://{bucket}/{prefix}/src/{path.name}")
    return written
