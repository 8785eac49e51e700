"""The stack's OperatorPolicy: what `mlops` needs and nothing more. (That every call the
commands make is allowed is checked by the end-to-end modules: cli_twin.py records them.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cli_twin import iam_action, operator_policy_actions

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policy = template["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"]
    return policy["Statement"]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_operators_write_the_ledger_only_under_approval_schema_and_abtest_keys_never_delete(
    template,
):
    writes = [s for s in statements(template) if "dynamodb:PutItem" in actions_of(s)]
    (write,) = writes
    assert write["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["approval#*", "schema#*", "abtest#*"]}
    }
    every = operator_policy_actions()
    assert not any(a.endswith(("DeleteItem", "UpdateItem", ":*")) for a in every), every


def test_only_actions_without_resource_level_permissions_take_every_resource(template):
    anywhere = [s for s in statements(template) if s["Resource"] == "*"]
    assert [sorted(actions_of(s)) for s in anywhere] == [
        [
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "events:TestEventPattern",
            "sagemaker:ListModelPackages",
        ]
    ]


def test_retrain_requests_are_the_only_events_operators_may_put_on_the_bus(template):
    (puts,) = [s for s in statements(template) if "events:PutEvents" in actions_of(s)]
    assert puts["Condition"] == {"StringEquals": {"events:source": "mlops.control-plane"}}


def test_calls_are_named_by_their_iam_actions():
    assert iam_action("monitoring", "DescribeAlarms", {}) == "cloudwatch:DescribeAlarms"
    assert iam_action("s3", "HeadObject", {}) == "s3:GetObject"
    assert iam_action("s3", "HeadObject", {"VersionId": "v"}) == "s3:GetObjectVersion"
    assert iam_action("sqs", "ChangeMessageVisibilityBatch", {}) == "sqs:ChangeMessageVisibility"
    assert iam_action("sts", "GetCallerIdentity", {}) is None
    assert iam_action("states", "StartExecution", {}) == "states:StartExecution"


class _RefLoader(yaml.SafeLoader):
    """template.yaml with `!Ref X` read as {"Ref": X}; other intrinsics as placeholders."""


_RefLoader.add_constructor("!Ref", lambda loader, node: {"Ref": loader.construct_scalar(node)})
_RefLoader.add_multi_constructor("!", lambda loader, tag, node: f"<{tag}>")


def test_operators_read_the_drift_checks_runs_and_never_start_one():
    template = yaml.load(TEMPLATE.read_text(), Loader=_RefLoader)
    drift = {"Ref": "DriftCheck"}

    def names(statement: dict[str, Any]) -> list[Any]:
        resource = statement["Resource"]
        return resource if isinstance(resource, list) else [resource]

    on_drift = [s for s in statements(template) if drift in names(s)]
    assert [actions_of(s) for s in on_drift] == [["states:ListExecutions"]]
    starts = [s for s in statements(template) if "states:StartExecution" in actions_of(s)]
    assert starts and all(drift not in names(s) for s in starts)
