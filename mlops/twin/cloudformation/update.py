"""Updating a stack in place ("Update behaviors of stack resources", CloudFormation user
guide): a resource the new template still declares, with the same type, keeps its physical id
and is changed through the service's update calls; a new resource is created. What the
update keeps is what holds the stack's data: buckets, the ledger table, queues, keys, the
event bus and archive, the model package group, log groups — and the serving endpoint, which
the stack's workflows create and the template does not declare at all.

- Code and configuration change in place: Lambda functions (new code directory, environment,
  timeout, memory; warm workers retire), layers (a new version when the content moves), state
  machines (UpdateStateMachine), rules and targets, role policies, alarms, policies on
  buckets, queues and topics, managed policies (a new default version), schedules, CodeBuild
  projects and pipelines.
- A kept resource whose properties differ would need CloudFormation's replacement or an
  update the twin does not model: the update fails naming it and the properties, before
  anything is changed, rather than pretending.
- A resource the new template no longer declares is left in the account (CloudFormation
  deletes it); the stack stops listing it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops.twin.cloudformation.template import TemplateError

if TYPE_CHECKING:
    from mlops.twin.cloudformation.provision import Stack

# Kept as they are; their properties must not change.
KEPT = frozenset(
    {
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::Events::EventBus",
        "AWS::Events::Archive",
        "AWS::Logs::LogGroup",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::SNS::Subscription",
        "AWS::SNS::Topic",
        "AWS::Lambda::Permission",
        "AWS::CodeConnections::Connection",
        "AWS::CodeStarConnections::Connection",
        "AWS::Scheduler::ScheduleGroup",
    }
)
# Their creators are idempotent puts: calling them again applies the new properties.
PUT_AGAIN = frozenset(
    {
        "AWS::Events::Rule",
        "AWS::CloudWatch::Alarm",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
    }
)


def changed_kept_resources(
    previous: Stack, resources: dict[str, dict[str, Any]], evaluate: Callable[[Any], Any]
) -> list[str]:
    """Kept resources whose properties the new template changes, as 'Logical (Type: keys)';
    `evaluate` resolves a resource's properties (only those not depending on new resources
    can be judged before the update; the others are checked as they come)."""
    problems = []
    for logical, resource in resources.items():
        kind = resource["Type"]
        if kind not in KEPT or previous.types.get(logical) != kind:
            continue
        try:
            props = evaluate(resource.get("Properties", {}))
        except (KeyError, TemplateError):
            continue
        keys = _differing(previous.properties.get(logical, {}), props)
        if keys:
            problems.append(f"{logical} ({kind}: {', '.join(keys)})")
    return problems


class StackUpdates:
    """A Provisioner mixin: `update_resource` dispatches on the resource type."""

    _client: Callable[[str], Any]
    _runtime: Any
    _layers: dict[str, Any]

    def update_resource(
        self,
        stack_name: str,
        logical: str,
        kind: str,
        props: dict[str, Any],
        stack: Stack,
        previous: Stack,
    ) -> tuple[Any, dict[str, Any]]:
        ref = previous.physical_ids[logical]
        attributes = dict(previous.attributes.get(logical, {}))
        if kind in KEPT:
            keys = _differing(previous.properties.get(logical, {}), props)
            if keys:
                raise TemplateError(
                    f"{logical}: the twin keeps {kind} as it is in an update and cannot "
                    f"change {', '.join(keys)}"
                )
            return ref, attributes
        if kind in PUT_AGAIN:
            return getattr(self, "_" + kind.replace("::", "_"))(stack_name, logical, props, stack)
        updater = getattr(self, "_update_" + kind.replace("::", "_"), None)
        if updater is None:
            raise TemplateError(f"{logical}: the twin cannot update {kind} in place")
        before = previous.properties.get(logical, {})
        return updater(stack_name, logical, props, stack, ref, attributes, before)

    # ------------------------------------------------------------ compute

    def _update_AWS_Lambda_LayerVersion(self, stack, logical, props, stack_obj, ref, _, before):
        version = int(str(ref).rsplit(":", 1)[1])
        if props.get("Content") != before.get("Content"):
            version += 1  # a layer version is immutable: new content publishes a new one
        return self._AWS_Lambda_LayerVersion(stack, logical, props, stack_obj, version)

    def _update_AWS_Lambda_Function(self, stack, logical, props, stack_obj, ref, attrs, _):
        # The twin runs the code directory: a new one (or an old one rewritten) is the new code.
        spec_props = dict(props, FunctionName=ref)
        lam = self._client("lambda")
        environment = props.get("Environment", {}).get("Variables", {})
        lam.update_function_configuration(
            FunctionName=ref,
            Role=props["Role"],
            Handler=props["Handler"],
            Runtime=props["Runtime"],
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Description=props.get("Description", ""),
            Environment={"Variables": {k: str(v) for k, v in environment.items()}},
        )
        self._register_function(logical, spec_props, attrs["Arn"], stack_obj)
        return ref, attrs

    def _update_AWS_StepFunctions_StateMachine(self, stack, logical, props, _, ref, attrs, b):
        name = props.get("StateMachineName") or attrs.get("Name")
        if name != attrs.get("Name") or props.get("StateMachineType") != b.get("StateMachineType"):
            raise TemplateError(f"{logical}: a new name or type replaces a state machine")
        self._client("stepfunctions").update_state_machine(
            stateMachineArn=ref, **self._state_machine_request(props)
        )
        return ref, attrs

    # ------------------------------------------------------------ IAM

    def _update_AWS_IAM_Role(self, stack, logical, props, _, ref, attrs, before):
        iam = self._client("iam")
        iam.update_assume_role_policy(
            RoleName=ref, PolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )
        names = set()
        for policy in props.get("Policies", []):
            policy["PolicyDocument"].setdefault("Version", "2012-10-17")
            iam.put_role_policy(
                RoleName=ref,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
            names.add(policy["PolicyName"])
        for policy in before.get("Policies", []):
            if policy["PolicyName"] not in names:
                iam.delete_role_policy(RoleName=ref, PolicyName=policy["PolicyName"])
        managed = props.get("ManagedPolicyArns", [])
        if managed != before.get("ManagedPolicyArns", []):
            iam.tag_role(  # recorded as tags, as the creator records them
                RoleName=ref,
                Tags=[{"Key": f"managed-policy-{i}", "Value": a} for i, a in enumerate(managed)],
            )
        return ref, attrs

    def _update_AWS_IAM_ManagedPolicy(self, stack, logical, props, _, ref, attrs, before):
        if props.get("PolicyDocument") != before.get("PolicyDocument"):
            document = dict(props["PolicyDocument"])
            document.setdefault("Version", "2012-10-17")
            iam = self._client("iam")
            versions = iam.list_policy_versions(PolicyArn=ref)["Versions"]
            for old in versions:  # IAM holds at most five versions
                if not old["IsDefaultVersion"] and len(versions) >= 5:
                    iam.delete_policy_version(PolicyArn=ref, VersionId=old["VersionId"])
                    break
            iam.create_policy_version(
                PolicyArn=ref, PolicyDocument=json.dumps(document), SetAsDefault=True
            )
        return ref, attrs

    # ------------------------------------------------------------ delivery and schedules

    def _update_AWS_Scheduler_Schedule(self, stack, logical, props, stack_obj, ref, attrs, _):
        self._client("scheduler").delete_schedule(
            Name=ref, **({"GroupName": props["GroupName"]} if "GroupName" in props else {})
        )
        return self._AWS_Scheduler_Schedule(stack, logical, props, stack_obj)

    def _update_AWS_CodeBuild_Project(self, stack, logical, props, stack_obj, ref, attrs, _):
        self._client("codebuild").delete_project(name=ref)
        return self._AWS_CodeBuild_Project(stack, logical, props, stack_obj)

    def _update_AWS_CodePipeline_Pipeline(self, stack, logical, props, stack_obj, ref, attrs, _):
        declaration = self._pipeline_declaration(logical, props, ref)
        declaration["version"] = int(attrs.get("Version", "1"))
        updated = self._client("codepipeline").update_pipeline(pipeline=declaration)
        return ref, {"Version": str(updated["pipeline"].get("version", 1))}


def _differing(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
