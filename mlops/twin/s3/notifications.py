"""S3 behaviour moto gets wrong, fixed as AWS documents it.

1. S3 -> EventBridge. moto 5.2.5 (moto/s3/notifications.py `_send_event_bridge_message`)
hands the event to every rule on every bus (so a rule on a custom bus would fire without an
ingress rule), always with the same event id, a numeric `time` and an `eTag` field. AWS sends
S3 events to the account's default bus only, with a fresh id, an ISO time and `etag` (S3 user
guide, ev-events.html).

2. Bucket policy conditions. moto (moto/iam/access_control.py, policy_conditions.py) treats
   unknown condition operators as matched, passes S3 no request context, and answers DENIED
   whenever a condition is false (IAM: the statement just does not apply). So the template's
   `Deny s3:* if aws:SecureTransport is false` denies every request. Here each statement's
   conditions are evaluated against the request context first, and moto sees only the
   statements that apply. The context says SecureTransport is true: the twin listens only on
   loopback, which stands in for TLS (it is never reachable from another host).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from moto.iam.access_control import IAMPolicy
from moto.s3 import notifications
from moto.s3.models import FakeBucket

from mlops.twin.events.delivery import put_aws_event

_original = notifications._send_event_bridge_message
_original_get_permission = FakeBucket.get_permission
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}
# S3 API call that created the object, as the `reason` field names it.
_REASONS = {
    "Put": "PutObject",
    "Post": "POST Object",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    detail = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": {
            "key": key.name,
            "size": key.size,
            "etag": key.etag.replace('"', ""),
            "version-id": key.version_id,
            # AWS: a hex string that only orders events of the same key.
            "sequencer": secrets.token_hex(9).upper(),
        },
        "request-id": secrets.token_hex(8).upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _REASONS.get(event_name.rsplit(":", 1)[-1], event_name.rsplit(":", 1)[-1]),
    }
    put_aws_event(
        account_id,
        bucket.region_name,
        "aws.s3",
        notifications._detail_type(event_name),
        detail,
        [f"arn:aws:s3:::{bucket.name}"],
    )


def _condition_holds(operator: str, key: str, expected: Any) -> bool:
    """IAM semantics for the operators bucket policies use; a key absent from the request
    context does not match (unless the operator ends in IfExists)."""
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if key not in REQUEST_CONTEXT:
        return if_exists
    actual = REQUEST_CONTEXT[key].lower()
    values = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
    if operator in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
        return actual in values
    if operator in ("StringNotEquals", "StringNotEqualsIgnoreCase"):
        return actual not in values
    raise NotImplementedError(f"bucket policy condition operator {operator} is not in the twin")


def _applies(statement: dict[str, Any]) -> bool:
    return all(
        _condition_holds(op, key, value)
        for op, pairs in statement.get("Condition", {}).items()
        for key, value in pairs.items()
    )


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return _original_get_permission(self, action, resource)
    policy = json.loads(self.policy)
    statements = (
        policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    )
    policy["Statement"] = [
        {k: v for k, v in st.items() if k != "Condition"} for st in statements if _applies(st)
    ]
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


def install_s3_seams() -> None:
    notifications._send_event_bridge_message = _send_event_bridge_message
    FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]


def uninstall_s3_seams() -> None:
    notifications._send_event_bridge_message = _original
    FakeBucket.get_permission = _original_get_permission  # type: ignore[method-assign]
