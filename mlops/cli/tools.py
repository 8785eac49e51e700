"""`mlops image-uri` and `mlops publish-code`: what a deployment to an account needs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add(commands: Any) -> None:
    image = commands.add_parser("image-uri", help="SageMaker scikit-learn image for a region")
    image.add_argument("--region", required=True)
    image.add_argument("--framework-version", default="1.2-1")
    image.set_defaults(func=image_uri)
    publish = commands.add_parser("publish-code", help="upload ml/ to the artifacts bucket")
    publish.add_argument("--bucket", required=True)
    publish.add_argument(
        "--version", help="a git commit id, say; default: sha256-<12 hex> of the content"
    )
    publish.add_argument("--ml-dir", default="ml")
    publish.set_defaults(func=publish_code)


def image_uri(args: argparse.Namespace) -> int:
    from mlops.images import sklearn_image_uri

    print(sklearn_image_uri(args.region, args.framework_version))
    return 0


def publish_code(args: argparse.Namespace) -> int:
    import boto3

    from mlops.code_package import CodeVersionConflict, content_version
    from mlops.code_package import publish_code as publish

    version = args.version or content_version(Path(args.ml_dir))
    try:
        uris = publish(boto3.client("s3"), args.bucket, version, Path(args.ml_dir))
    except CodeVersionConflict as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"CodeVersion={version}")
    for uri in uris:
        print(uri)
    return 0
