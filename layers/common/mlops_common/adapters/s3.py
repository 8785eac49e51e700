import hashlib
import json
from typing import Any

CHUNK_BYTES = 1024 * 1024


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class S3Store:
    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        kwargs = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
        try:
            return self._s3.head_object(**kwargs)
        except self._s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchVersion"):
                return None
            raise

    def read_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        kwargs = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
        return self._s3.get_object(**kwargs)["Body"].read()

    def sha256(self, uri: str) -> str | None:
        """SHA-256 (hex) of the current version of an object, streamed in 1 MiB chunks so a
        large model artifact never sits in memory; None if there is no such object."""
        bucket, key = split_s3_uri(uri)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except self._s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
        return digest.hexdigest()

    def read_json(self, uri: str) -> Any:
        bucket, key = split_s3_uri(uri)
        return json.loads(self.read_bytes(bucket, key))

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        return [
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]
