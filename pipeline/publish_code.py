"""Publish ml/ of this source tree to s3://<bucket>/code/<version>/ (mlops.code_package: the
layout the SageMaker jobs and models read), once: a version already published with the same
tarball is left as it is; with a different one, publishing fails, because a code version is
what the registered models' lineage names and must never change under them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops.code_package import publish_code, sourcedir_tarball  # noqa: E402


def publish_once(s3, bucket: str, version: str, ml_dir: Path) -> str:
    key = f"code/{version}/sourcedir.tar.gz"
    try:
        existing = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        existing = None
    if existing is not None:
        if existing == sourcedir_tarball(ml_dir):
            return f"s3://{bucket}/code/{version}/ is already published with this code"
        raise SystemExit(
            f"s3://{bucket}/code/{version}/ holds other code: a code version is immutable"
        )
    written = publish_code(s3, bucket, version, ml_dir)
    return f"published {len(written)} objects under s3://{bucket}/code/{version}/"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--region", default=None)
    args = parser.parse_args()
    client = boto3.client("s3", region_name=args.region or None)
    print(publish_once(client, args.bucket, args.version, ROOT / "ml"))
