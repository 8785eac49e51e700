"""Publishes ml/ where the SageMaker jobs and models expect it (template parameter CodeVersion):

    s3://ARTIFACTS/code/VERSION/sourcedir.tar.gz   script-mode source (training, hosting)
    s3://ARTIFACTS/code/VERSION/src/<file>         the same files, a Processing input
    s3://ARTIFACTS/code/VERSION/manifest.json      the SHA-256 of the tarball and of each file

A code version is immutable. The tarball is deterministic (sorted entries, fixed mtimes, modes
and owners, a gzip header without a timestamp), so the same files always give the same bytes
and the same SHA-256. The version defaults to that hash (`sha256-<12 hex digits>`) or is given
(a git commit id). Publishing other content to an existing version is refused
(`CodeVersionConflict`); publishing the same content again writes nothing, or completes an
interrupted publish. The manifest is claimed first with a conditional write (`If-None-Match:
*`, "Add preconditions to S3 operations with conditional requests", Amazon S3 user guide), so
two publishers racing to one new version cannot both write it.

The same function serves a real account (`mlops publish-code`) and the twin.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Data and tooling are not part of the job's source directory.
EXCLUDED = {"data", "__pycache__", "export_dataset.py"}
TARBALL = "sourcedir.tar.gz"
MANIFEST = "manifest.json"
# The template's CodeVersion AllowedPattern: the version is part of S3 keys and job inputs.
VERSION = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")


class CodeVersionConflict(Exception):
    """The code version already holds other content: versions are immutable."""


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def source_files(ml_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in ml_dir.iterdir()
        if p.is_file() and p.name not in EXCLUDED and not p.name.startswith(".")
    )


def sourcedir_tarball(ml_dir: Path) -> bytes:
    """The same files give the same bytes: nothing of the publishing machine or moment."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in source_files(ml_dir):
            body = path.read_bytes()
            info = tarfile.TarInfo(name=path.name)
            info.size, info.mode, info.mtime = len(body), 0o644, 0
            info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
            tar.addfile(info, io.BytesIO(body))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


@dataclass(frozen=True)
class CodePackage:
    tarball: bytes
    files: dict[str, bytes]  # file name -> content

    @property
    def sha256(self) -> str:
        return sha256_hex(self.tarball)

    @property
    def default_version(self) -> str:
        return f"sha256-{self.sha256[:12]}"

    def manifest(self, version: str) -> dict[str, Any]:
        return {
            "version": version,
            "sha256": self.sha256,
            "files": {f"src/{n}": sha256_hex(b) for n, b in sorted(self.files.items())},
        }

    def objects(self) -> dict[str, bytes]:
        """Key under the version prefix -> body."""
        return {TARBALL: self.tarball} | {f"src/{n}": b for n, b in self.files.items()}


def build_package(ml_dir: Path) -> CodePackage:
    return CodePackage(
        sourcedir_tarball(ml_dir), {p.name: p.read_bytes() for p in source_files(ml_dir)}
    )


def content_version(ml_dir: Path) -> str:
    """The version `publish_code` uses when none is given."""
    return build_package(ml_dir).default_version


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def published_manifest(s3: Any, bucket: str, version: str) -> dict[str, Any] | None:
    """The manifest of a published code version, None if the version has none."""
    body = _read(s3, bucket, f"code/{version}/{MANIFEST}")
    return json.loads(body) if body is not None else None


def publish_code(s3: Any, bucket: str, version: str | None, ml_dir: Path) -> list[str]:
    """Publishes ml/ as `version` (default: its content hash); returns the S3 URIs it holds.

    Raises CodeVersionConflict, before writing anything, if the version holds other content.
    """
    package = build_package(ml_dir)
    version = version or package.default_version
    if not VERSION.fullmatch(version):
        raise ValueError(f"code version {version!r} must match {VERSION.pattern}")
    prefix = f"code/{version}"
    manifest = package.manifest(version)
    existing = published_manifest(s3, bucket, version)
    if existing is not None:
        _same_content(version, existing, manifest)
    missing = []
    for key, body in package.objects().items():
        stored = _read(s3, bucket, f"{prefix}/{key}")
        if stored is None:
            missing.append(key)
        elif stored != body:
            raise CodeVersionConflict(
                f"code version {version} already holds another {key} "
                f"(sha256 {sha256_hex(stored)}, this ml/ has {sha256_hex(body)}); "
                "publish under a new version"
            )
    if existing is None:
        try:
            s3.put_object(
                Bucket=bucket,
                Key=f"{prefix}/{MANIFEST}",
                Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "PreconditionFailed":
                raise
            # Another publisher claimed the version first: fine only with the same content.
            _same_content(version, published_manifest(s3, bucket, version) or {}, manifest)
    objects = package.objects()
    for key in missing:
        s3.put_object(
            Bucket=bucket,
            Key=f"{prefix}/{key}",
            Body=objects[key],
            Metadata={"sha256": sha256_hex(objects[key])},
        )
    return [f"s3://{bucket}/{prefix}/{key}" for key in objects] + [
        f"s3://{bucket}/{prefix}/{MANIFEST}"
    ]


def _same_content(version: str, existing: dict[str, Any], manifest: dict[str, Any]) -> None:
    if existing.get("sha256") != manifest["sha256"]:
        raise CodeVersionConflict(
            f"code version {version} is already published with other content "
            f"(sourcedir sha256 {existing.get('sha256')}, this ml/ is {manifest['sha256']}); "
            "code versions are immutable: publish under a new version"
        )
