"""Code versions (mlops/code_package.py): deterministic, content-addressed by default, immutable.

S3 is moto, with a versioned artifacts bucket as the template creates it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mlops.code_package import (
    VERSION,
    CodeVersionConflict,
    content_version,
    publish_code,
    published_manifest,
    sourcedir_tarball,
)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "mlops-artifacts"


@pytest.fixture
def s3(aws: Any) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def ml(tmp_path: Path) -> Path:
    """A copy of ml/ (without data) that a test may change."""
    copy = tmp_path / "ml"
    shutil.copytree(ROOT / "ml", copy, ignore=shutil.ignore_patterns("data", "__pycache__"))
    return copy


def keys(s3: Any) -> dict[str, int]:
    """key -> number of stored versions."""
    found: dict[str, int] = {}
    for version in s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        found[version["Key"]] = found.get(version["Key"], 0) + 1
    return found


def test_the_tarball_is_the_same_bytes_whatever_the_mtimes_and_the_moment(ml: Path) -> None:
    first = sourcedir_tarball(ml)
    for path in ml.iterdir():
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (ml / "train.py").chmod(0o755)
    assert sourcedir_tarball(ml) == first
    with gzip.GzipFile(fileobj=io.BytesIO(first)) as gz:
        gz.read()
        assert gz.mtime == 0
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and "train.py" in names and "data" not in names
    assert {(m.mtime, m.mode, m.uid, m.gid, m.uname) for m in members} == {(0, 0o644, 0, 0, "")}


def test_the_default_version_is_the_content_hash_and_changes_with_the_content(ml: Path) -> None:
    version = content_version(ml)
    assert version == f"sha256-{hashlib.sha256(sourcedir_tarball(ml)).hexdigest()[:12]}"
    (ml / "inference.py").write_text((ml / "inference.py").read_text() + "\n# changed\n")
    assert content_version(ml) != version


def test_publishing_writes_the_tarball_the_files_and_a_manifest_of_their_hashes(
    s3: Any, ml: Path
) -> None:
    uris = publish_code(s3, BUCKET, None, ml)
    version = content_version(ml)
    tarball = s3.get_object(Bucket=BUCKET, Key=f"code/{version}/sourcedir.tar.gz")
    body = tarball["Body"].read()
    assert body == sourcedir_tarball(ml)
    assert tarball["Metadata"] == {"sha256": hashlib.sha256(body).hexdigest()}
    manifest = published_manifest(s3, BUCKET, version)
    assert manifest is not None
    assert (manifest["version"], manifest["sha256"]) == (version, hashlib.sha256(body).hexdigest())
    for name, digest in manifest["files"].items():
        stored = s3.get_object(Bucket=BUCKET, Key=f"code/{version}/{name}")["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == digest
    assert f"s3://{BUCKET}/code/{version}/sourcedir.tar.gz" in uris
    assert f"s3://{BUCKET}/code/{version}/src/train.py" in uris


def test_publishing_the_same_content_again_writes_nothing(s3: Any, ml: Path) -> None:
    first = publish_code(s3, BUCKET, "abc1234", ml)
    stored = keys(s3)
    assert publish_code(s3, BUCKET, "abc1234", ml) == first
    assert keys(s3) == stored and set(stored.values()) == {1}


def test_publishing_other_content_to_an_existing_version_is_refused_and_changes_nothing(
    s3: Any, ml: Path
) -> None:
    publish_code(s3, BUCKET, "abc1234", ml)
    stored = keys(s3)
    (ml / "inference.py").write_text("raise SystemExit('another model server')\n")
    with pytest.raises(CodeVersionConflict, match="code version abc1234 is already published"):
        publish_code(s3, BUCKET, "abc1234", ml)
    assert keys(s3) == stored


def test_a_version_published_without_a_manifest_is_not_overwritten(s3: Any, ml: Path) -> None:
    # Given a version published before manifests existed (its files only)
    s3.put_object(Bucket=BUCKET, Key="code/dev/sourcedir.tar.gz", Body=b"older tarball")
    # When other content is published as that version: refused before anything is written
    with pytest.raises(CodeVersionConflict, match="already holds another sourcedir.tar.gz"):
        publish_code(s3, BUCKET, "dev", ml)
    assert keys(s3) == {"code/dev/sourcedir.tar.gz": 1}


def test_an_interrupted_publish_is_completed_by_publishing_again(s3: Any, ml: Path) -> None:
    uris = publish_code(s3, BUCKET, "abc1234", ml)
    s3.delete_object(Bucket=BUCKET, Key="code/abc1234/src/train.py")  # the upload that failed
    assert publish_code(s3, BUCKET, "abc1234", ml) == uris
    stored = s3.get_object(Bucket=BUCKET, Key="code/abc1234/src/train.py")["Body"].read()
    assert stored == (ml / "train.py").read_bytes()


def test_of_two_publishers_racing_to_one_new_version_only_one_content_is_published(
    s3: Any, ml: Path, tmp_path: Path
) -> None:
    # b finds the version free; before b claims it, a publishes other content there. b's claim
    # is a conditional write of the manifest, so b is refused and writes nothing.
    other = tmp_path / "other"
    shutil.copytree(ml, other)
    (other / "inference.py").write_text("# another model server\n")
    original_put = s3.put_object
    overtaken: list[bool] = []

    def put_object(**kwargs: Any) -> Any:
        if kwargs["Key"].endswith("manifest.json") and not overtaken:
            overtaken.append(True)
            publish_code(s3, BUCKET, "race", other)  # a, all of it
        return original_put(**kwargs)

    s3.put_object = put_object
    try:
        with pytest.raises(CodeVersionConflict, match="code version race is already published"):
            publish_code(s3, BUCKET, "race", ml)  # b
    finally:
        s3.put_object = original_put
    body = s3.get_object(Bucket=BUCKET, Key="code/race/sourcedir.tar.gz")["Body"].read()
    assert body == sourcedir_tarball(other)
    assert set(keys(s3).values()) == {1}  # nothing of b's was written over a's


@pytest.mark.parametrize("version", ["a/b", "../runs", "x" * 65, "v 1"])
def test_a_version_the_template_would_not_accept_is_refused(
    s3: Any, ml: Path, version: str
) -> None:
    with pytest.raises(ValueError, match="must match"):
        publish_code(s3, BUCKET, version, ml)
    assert keys(s3) == {}


def test_the_version_pattern_is_the_template_s_code_version_pattern(template: Any) -> None:
    assert VERSION.pattern == template["Parameters"]["CodeVersion"]["AllowedPattern"]


def test_the_cli_prints_the_version_to_deploy_and_refuses_a_conflict(
    s3: Any, ml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops.cli import main

    assert main(["publish-code", "--bucket", BUCKET, "--ml-dir", str(ml)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"CodeVersion={content_version(ml)}"
    assert f"s3://{BUCKET}/code/{content_version(ml)}/sourcedir.tar.gz" in out
    (ml / "train.py").write_text("# changed\n")
    assert main(["publish-code", "--bucket", BUCKET, "--version", "abc", "--ml-dir", str(ml)]) == 0
    (ml / "train.py").write_text("# changed again\n")
    assert main(["publish-code", "--bucket", BUCKET, "--version", "abc", "--ml-dir", str(ml)]) == 1
    assert capsys.readouterr().err.startswith("refused: code version abc is already published")
