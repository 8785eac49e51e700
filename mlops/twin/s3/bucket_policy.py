"""Bucket-policy conditions as IAM evaluates them (IAM user guide, "IAM JSON policy elements:
Condition operators").

moto (moto/iam/access_control.py, policy_conditions.py) treats unknown condition operators as
matched, passes S3 no request context, and answers DENIED whenever a condition is false (IAM:
the statement just does not apply). So the template's `Deny s3:* if aws:SecureTransport is
false` denies every request. Here each statement's conditions are evaluated against the
request context first, and moto sees only the statements that apply. The context says
SecureTransport is true: the twin listens only on loopback, which stands in for TLS (it is
never reachable from another host).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from moto.iam.access_control import IAMPolicy
from moto.s3.models import FakeBucket

from mlops.twin.seam import Patch, PatchSeam

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


class BucketPolicySeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        original = FakeBucket.get_permission

        def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
            if self.policy is None:
                return original(self, action, resource)
            return _permitted(json.loads(self.policy), action, resource)

        return [Patch(FakeBucket, "get_permission", get_permission)]


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


def _permitted(policy: dict[str, Any], action: str, resource: str) -> Any:
    statements = (
        policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    )
    policy["Statement"] = [
        {k: v for k, v in st.items() if k != "Condition"} for st in statements if _applies(st)
    ]
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)
