"""S3 locations as the APIs pass them: `s3://bucket/key`, and the HTTPS forms some fields
also accept (virtual-hosted `https://bucket.s3.<region>.amazonaws.com/key` and path-style
`https://s3.<region>.amazonaws.com/bucket/key`; S3 user guide, "Methods for accessing a
bucket")."""

from __future__ import annotations

from urllib.parse import urlparse


class S3UriError(ValueError):
    """Not an S3 location."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3UriError(f"{uri!r} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def split_s3_location(uri: str) -> tuple[str, str]:
    """An s3:// URI or an HTTPS S3 URL -> (bucket, key or prefix without edge slashes)."""
    parsed = urlparse(uri)
    path = parsed.path.strip("/")
    if parsed.scheme == "s3":
        return parsed.netloc, path
    host = parsed.netloc.split(":", 1)[0]
    if ".s3" in host and not host.startswith("s3"):  # virtual-hosted: bucket.s3.<region>...
        return host.split(".s3", 1)[0], path
    bucket, _, prefix = path.partition("/")  # path-style: s3.<region>.amazonaws.com/bucket
    return bucket, prefix


def join_s3_uri(uri: str, *parts: str) -> str:
    """`join_s3_uri("s3://b/out/", "job", "/model.tar.gz")` -> "s3://b/out/job/model.tar.gz"."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])
