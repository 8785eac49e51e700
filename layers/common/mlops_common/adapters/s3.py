import hashlib
import json
from typing import Any

#: Answers meaning "no such object or version" (or, with an ETag condition, "not that one").
GONE = ("404", "NoSuchKey", "NoSuchVersion", "412", "PreconditionFailed")
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

    def open(
        self, bucket: str, key: str, version_id: str | None, etag: str | None = None
    ) -> Any | None:
        """The body of exactly this object version as a stream (botocore StreamingBody), or None
        if it is gone. Without a version id (an unversioned bucket) the ETag pins the content:
        GetObject's If-Match fails rather than return other bytes ("GetObject", Amazon S3 API
        Reference)."""
        kwargs = {"Bucket": bucket, "Key": key} | _pin(version_id, etag)
        try:
            return self._s3.get_object(**kwargs)["Body"]
        except self._s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in GONE:
                return None
            raise

    def copy_version(
        self, source: tuple[str, str], version_id: str | None, etag: str, target: tuple[str, str]
    ) -> dict[str, Any] | None:
        """Server-side copy of exactly one version (CopySource's versionId; without one, the
        ETag condition CopySourceIfMatch) to `target` (bucket, key); None if it is gone.
        Tags are not copied (TaggingDirective REPLACE with none), so the copy needs no tagging
        permission ("CopyObject", Amazon S3 API Reference)."""
        copy_source = {"Bucket": source[0], "Key": source[1]}
        if version_id:
            copy_source["VersionId"] = version_id
        try:
            response = self._s3.copy_object(
                Bucket=target[0],
                Key=target[1],
                CopySource=copy_source,
                TaggingDirective="REPLACE",
                **({} if version_id else {"CopySourceIfMatch": f'"{etag}"'}),
            )
        except self._s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in GONE:
                return None
            raise
        return {"ETag": response["CopyObjectResult"]["ETag"].strip('"')} | (
            {"VersionId": response["VersionId"]} if response.get("VersionId") else {}
        )

    def newest_object(self, bucket: str, prefix: str) -> dict[str, Any] | None:
        """The most recently written object under `prefix` (folder markers, keys ending in "/",
        left out), as ListObjectsV2 describes it; None if there is none."""
        paginator = self._s3.get_paginator("list_objects_v2")
        newest = None
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                if newest is None or (obj["LastModified"], obj["Key"]) > (
                    newest["LastModified"],
                    newest["Key"],
                ):
                    newest = obj
        return newest

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

    def objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """Every object under `prefix` as ListObjectsV2 describes it (Key, Size, ETag...)."""
        paginator = self._s3.get_paginator("list_objects_v2")
        return [
            obj
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]

    def put_json(self, uri: str, document: Any) -> None:
        bucket, key = split_s3_uri(uri)
        body = json.dumps(document, indent=1).encode()
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        return [
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]


def _pin(version_id: str | None, etag: str | None) -> dict[str, str]:
    if version_id:
        return {"VersionId": version_id}
    return {"IfMatch": f'"{etag}"'} if etag else {}
