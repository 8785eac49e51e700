"""The template's EventBridge rules accept the sample events in events/rules/ and reject the
near misses in events/rules/near_miss/.

An event fires the rules it reaches: `aws.*` events are put on the default bus, where the
ingress rules forward this stack's to the stack bus (only AWS services may send an `aws.*`
source, "Amazon EventBridge events" in the EventBridge user guide); the control plane's own
events (a retrain request) are put on the stack bus directly. The workflow rules live on the
stack bus, so a workflow rule's pattern need not repeat what an ingress rule already filters:
the NewDataset rule leaves the data prefix to DataIngressRule and filters folder markers.

Patterns come from template.yaml itself (SAM transform + intrinsic evaluation, as the twin does),
resolved for a placeholder stack `mlops-dev`. Matching is checked twice with moto 5.2.5:
its pattern matcher (``moto.events.models.EventPattern``) and its PutEvents routing from the
default bus through the ingress rules to the stack bus. boto3's TestEventPattern is not used:
moto 5.2.5 answers it with an empty body (no ``Result``), so it cannot say yes or no.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_common.models import RetrainRequest
from moto.events.models import EventPattern

from mlops.twin.cloudformation.template import (
    Context,
    evaluate,
    load_template,
    resolve_parameters,
    sam_transform,
)

ROOT = Path(__file__).resolve().parents[2]
RULE_EVENTS = ROOT / "events" / "rules"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "mlops-dev"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PSEUDO = {
    "AWS::StackName": STACK,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
STACK_BUS = f"{STACK}-mlops"
STACK_BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{STACK_BUS}"
RECORD_UPLOAD_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-RecordUpload-x"
REFS = {
    "DataBucket": f"{STACK}-databucket-example",
    "EventBus": STACK_BUS,
    "TrainingPipeline": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:TrainingPipeline-x",
    "DeployPipeline": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:DeployPipeline-x",
    "RollbackPipeline": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:RollbackPipeline-x",
    "EndpointErrorAlarm": f"{STACK}-endpoint-5xx",  # Ref of an AWS::CloudWatch::Alarm: its name
}
INGRESS_RULES = {"DataIngressRule", "RegistryIngressRule", "AlarmIngressRule"}
WORKFLOW_RULES = {
    "TrainingPipelineNewDataset",
    "TrainingPipelineRetrainRequested",
    "TrainingPipelineDriftDetected",
    "DeployPipelineModelApproved",
    "RollbackPipelineLiveModelRejected",
    "RollbackPipelineRegressionAlarm",
}
ROLLBACK_RULES = {"RollbackPipelineLiveModelRejected", "RollbackPipelineRegressionAlarm"}

# Which rules each sample fires (the module docstring says which path an event takes). The
# registry ingress rule forwards every status change of the stack's group (its Description says
# so: the archive keeps them); the deploy and rollback rules on the stack bus filter on Approved
# and Rejected (SageMaker developer guide, "Automating Amazon SageMaker AI with Amazon
# EventBridge": Model package state change). The alarm ingress rule forwards every state change
# of the endpoint's 5XX alarm; only entering ALARM starts the RollbackPipeline. The new-fleet
# latency alarm is the guardrails' alone.
EXPECTED_MATCHES: dict[str, set[str]] = {
    "s3_object_created.json": {"DataIngressRule", "TrainingPipelineNewDataset"},
    # A folder of parts is one dataset, started by its marker; a part alone starts nothing.
    "s3_object_created_parts_marker.json": {"DataIngressRule", "TrainingPipelineNewDataset"},
    "near_miss/s3_object_created_part.json": {"DataIngressRule"},
    "near_miss/s3_object_created_prefix_folder.json": {"DataIngressRule"},
    "retrain_requested.json": {"TrainingPipelineRetrainRequested"},
    "drift_detected.json": {"TrainingPipelineDriftDetected"},
    "model_package_approved.json": {"RegistryIngressRule", "DeployPipelineModelApproved"},
    "model_package_rejected.json": {"RegistryIngressRule", "RollbackPipelineLiveModelRejected"},
    "alarm_state_change.json": {"AlarmIngressRule", "RollbackPipelineRegressionAlarm"},
    "near_miss/s3_object_created_other_bucket.json": set(),
    "near_miss/s3_object_created_other_prefix.json": set(),
    "near_miss/s3_object_deleted.json": set(),
    # A folder marker is archived like any object under the prefix, and starts nothing.
    "near_miss/s3_object_created_folder.json": {"DataIngressRule"},
    "near_miss/retrain_requested_other_source.json": set(),
    "near_miss/model_package_other_group.json": set(),
    "near_miss/model_package_rejected_other_group.json": set(),
    "near_miss/model_package_pending_manual_approval.json": {"RegistryIngressRule"},
    "near_miss/alarm_state_change_ok.json": {"AlarmIngressRule"},
    "near_miss/alarm_state_change_other_alarm.json": set(),
}


def _rel(path: Path) -> str:
    return path.relative_to(RULE_EVENTS).as_posix()


def _event(name: str) -> dict[str, Any]:
    return json.loads((RULE_EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    parameters = resolve_parameters(
        template, {"TrainingImageUri": IMAGE, "InferenceImageUri": IMAGE}
    )
    return {"parameters": parameters, **sam_transform(template, parameters, REGION)}


@pytest.fixture(scope="module")
def rules(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::Events::Rule with EventPattern, EventBusName and target ARNs resolved."""
    ctx = Context(
        parameters=cfn["parameters"],
        pseudo=PSEUDO,
        refs=REFS,
        attributes={
            "EventBus": {"Arn": STACK_BUS_ARN},
            "RecordUploadFunction": {"Arn": RECORD_UPLOAD_ARN},
        },  # fmt: skip
    )
    resolved = {}
    for logical, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resource["Properties"]
        resolved[logical] = {
            "EventPattern": evaluate(props["EventPattern"], ctx),
            "EventBusName": evaluate(props.get("EventBusName", "default"), ctx),
            "TargetArns": [evaluate(t["Arn"], ctx) for t in props["Targets"]],
        }
    return resolved


def _bus_of(event: dict[str, Any]) -> str:
    """Where an event is put: AWS services send to the default bus, the control plane to the
    stack bus."""
    return "default" if event["source"].startswith("aws.") else STACK_BUS


def _matching_rules(
    rules: dict[str, dict[str, Any]], event: dict[str, Any], bus: str | None = None
) -> set[str]:
    """The rules `event` fires when put on `bus` (its own by default), following the ingress
    rules' forwarding to the stack bus."""

    # EventPattern.load also runs moto's pattern validation (InvalidEventPatternException).
    def matching(on: str) -> set[str]:
        return {
            name
            for name, rule in rules.items()
            if rule["EventBusName"] == on
            and EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)
        }

    fired = matching(bus or _bus_of(event))
    if any(STACK_BUS_ARN in rules[name]["TargetArns"] for name in fired):
        fired |= matching(STACK_BUS)
    return fired


def test_every_rule_event_file_has_an_expected_match_set() -> None:
    files = {_rel(p) for p in RULE_EVENTS.rglob("*.json")}
    assert files == set(EXPECTED_MATCHES)


def test_template_has_exactly_the_ingress_and_workflow_rules(rules: dict) -> None:
    assert set(rules) == INGRESS_RULES | WORKFLOW_RULES


def test_patterns_resolve_to_the_stack_bucket_prefix_and_group(rules: dict) -> None:
    s3_pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"]}
    assert rules["DataIngressRule"]["EventPattern"] == s3_pattern | {
        "detail": {
            "bucket": {"name": ["mlops-dev-databucket-example"]},
            "object": {"key": [{"prefix": "datasets/"}]},
        }
    }
    # "Content filtering in Amazon EventBridge event patterns": wildcard, and anything-but
    # with wildcards.
    assert rules["TrainingPipelineNewDataset"]["EventPattern"] == s3_pattern | {
        "detail": {
            "bucket": {"name": ["mlops-dev-databucket-example"]},
            "object": {
                "key": [
                    {"wildcard": "datasets/*/_SUCCESS"},
                    {"anything-but": {"wildcard": ["datasets/*/*", "*/"]}},
                ]
            },
        }
    }
    assert rules["TrainingPipelineRetrainRequested"]["EventPattern"] == {
        "source": ["mlops.control-plane"],
        "detail-type": ["Retrain Requested"],
    }
    assert rules["RegistryIngressRule"]["EventPattern"]["detail"] == {
        "ModelPackageGroupName": ["mlops-dev-models"]
    }
    assert rules["DeployPipelineModelApproved"]["EventPattern"]["detail"] == {
        "ModelPackageGroupName": ["mlops-dev-models"],
        "ModelApprovalStatus": ["Approved"],
    }


def test_rollback_patterns_resolve_to_the_stack_group_and_its_error_alarm(rules: dict) -> None:
    assert rules["RollbackPipelineLiveModelRejected"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": ["mlops-dev-models"],
            "ModelApprovalStatus": ["Rejected"],
        },
    }
    alarm_changes = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    assert rules["AlarmIngressRule"]["EventPattern"] == alarm_changes | {
        "detail": {"alarmName": ["mlops-dev-endpoint-5xx"]}
    }
    assert rules["RollbackPipelineRegressionAlarm"]["EventPattern"] == alarm_changes | {
        "detail": {"alarmName": ["mlops-dev-endpoint-5xx"], "state": {"value": ["ALARM"]}}
    }


def test_rollback_alarm_rules_name_the_alarm_the_template_creates(cfn: dict[str, Any]) -> None:
    # The rules reference the EndpointErrorAlarm resource, not a copy of its name.
    resources = cfn["Resources"]
    assert resources["EndpointErrorAlarm"]["Properties"]["AlarmName"] == {
        "Fn::Sub": "${AWS::StackName}-endpoint-5xx"
    }
    for rule in ("AlarmIngressRule", "RollbackPipelineRegressionAlarm"):
        pattern = resources[rule]["Properties"]["EventPattern"]
        assert pattern["detail"]["alarmName"] == [{"Ref": "EndpointErrorAlarm"}], rule


def test_ingress_rules_forward_from_the_default_bus_to_the_stack_bus(rules: dict) -> None:
    for name in INGRESS_RULES:
        assert rules[name]["EventBusName"] == "default", name
        assert rules[name]["TargetArns"] == [STACK_BUS_ARN], name


def test_workflow_rules_start_their_state_machine_from_the_stack_bus(rules: dict) -> None:
    # An upload is recorded first: RecordUpload coalesces a burst into one run (domain.uploads)
    assert rules["TrainingPipelineNewDataset"]["EventBusName"] == STACK_BUS
    assert rules["TrainingPipelineNewDataset"]["TargetArns"] == [RECORD_UPLOAD_ARN]
    for name in ("TrainingPipelineRetrainRequested", "TrainingPipelineDriftDetected"):
        assert rules[name]["EventBusName"] == STACK_BUS, name
        assert rules[name]["TargetArns"] == [REFS["TrainingPipeline"]], name
    assert rules["DeployPipelineModelApproved"]["EventBusName"] == STACK_BUS
    assert rules["DeployPipelineModelApproved"]["TargetArns"] == [REFS["DeployPipeline"]]
    for name in ROLLBACK_RULES:
        assert rules[name]["EventBusName"] == STACK_BUS, name
        assert rules[name]["TargetArns"] == [REFS["RollbackPipeline"]], name


@pytest.mark.parametrize("name", sorted(EXPECTED_MATCHES))
def test_moto_pattern_matcher_matches_exactly_the_expected_rules(rules: dict, name: str) -> None:
    assert _matching_rules(rules, _event(name)) == EXPECTED_MATCHES[name]


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED_MATCHES if n.startswith("near_miss/")))
def test_near_misses_start_no_workflow(rules: dict, name: str) -> None:
    assert not _matching_rules(rules, _event(name)) & WORKFLOW_RULES


def test_the_data_prefix_is_filtered_by_the_ingress_rule(rules: dict) -> None:
    # NewDataset would take an object outside the prefix, were it on the stack bus; it never
    # is, because DataIngressRule does not forward it.
    outside = _event("near_miss/s3_object_created_other_prefix.json")
    assert _matching_rules(rules, outside) == set()
    assert _matching_rules(rules, outside, STACK_BUS) == {"TrainingPipelineNewDataset"}


def test_the_retrain_rule_delivers_the_request_as_the_documented_input(cfn: dict) -> None:
    # design decision D1: {"retrain": <detail>} ("Transforming Amazon EventBridge target input")
    [target] = cfn["Resources"]["TrainingPipelineRetrainRequested"]["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"request": "$.detail"}
    detail = _event("retrain_requested.json")["detail"]
    rendered = transformer["InputTemplate"].replace("<request>", json.dumps(detail))
    assert json.loads(rendered) == {"retrain": detail}


def test_the_drift_rule_delivers_the_events_retrain_request_as_the_documented_input(
    cfn: dict,
) -> None:
    [target] = cfn["Resources"]["TrainingPipelineDriftDetected"]["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"request": "$.detail.retrain"}
    request = _event("drift_detected.json")["detail"]["retrain"]
    rendered = transformer["InputTemplate"].replace("<request>", json.dumps(request))
    assert json.loads(rendered) == {"retrain": request}
    # the TrainingPipeline reads it as a retrain request of the latest dataset, trigger drift
    parsed = RetrainRequest.model_validate(json.loads(rendered)["retrain"])
    assert (parsed.dataset, parsed.force, parsed.trigger) == ("latest", True, "drift")


@pytest.mark.parametrize(
    "name",
    [
        "s3_object_created.json",
        "model_package_approved.json",
        "model_package_rejected.json",
        "alarm_state_change.json",
        "retrain_requested.json",
    ],
)
def test_replayed_events_still_start_their_workflow(rules: dict, name: str) -> None:
    # Replay goes to the stack bus and adds `replay-name` (EventBridge user guide, "Replaying
    # archived events in Amazon EventBridge"); the workflows
    # deduplicate themselves, so a replay must reach them.
    replayed = {**_event(name), "replay-name": "mlops-dev-replay-1"}
    assert _matching_rules(rules, replayed, STACK_BUS) & WORKFLOW_RULES == EXPECTED_MATCHES[
        name
    ] & (WORKFLOW_RULES)


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


@pytest.mark.parametrize("name", sorted(EXPECTED_MATCHES))
def test_moto_routes_each_event_through_the_buses_to_the_expected_rules(
    aws: None, rules: dict, name: str
) -> None:
    """Rules as deployed (ingress on default -> stack bus -> workflow rule); every rule also
    gets an SQS capture target standing in for its real target."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    assert events.create_event_bus(Name=STACK_BUS)["EventBusArn"] == STACK_BUS_ARN
    captures = {}
    for rule_name, rule in rules.items():
        url, arn = _queue(sqs, f"capture-{rule_name}")
        captures[rule_name] = url
        bus = rule["EventBusName"]
        events.put_rule(
            Name=rule_name, EventBusName=bus, EventPattern=json.dumps(rule["EventPattern"])
        )
        targets = [{"Id": "capture", "Arn": arn}]
        if rule_name in INGRESS_RULES:
            targets.append(
                {
                    "Id": "stack-bus",
                    "Arn": STACK_BUS_ARN,
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/IngressRole",
                }
            )
        events.put_targets(Rule=rule_name, EventBusName=bus, Targets=targets)

    event = _event(name)
    sent = events.put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "Time": event["time"],
                "EventBusName": _bus_of(event),
            }
        ]
    )
    assert sent["FailedEntryCount"] == 0

    delivered = {}
    for rule_name, url in captures.items():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            assert len(messages) == 1, rule_name
            delivered[rule_name] = json.loads(messages[0]["Body"])
    assert set(delivered) == EXPECTED_MATCHES[name]
    for body in delivered.values():
        assert (body["source"], body["detail-type"], body["detail"]) == (
            event["source"],
            event["detail-type"],
            event["detail"],
        )


def _getatt_target(value: Any, attribute: str) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        return logical if attr == attribute else None
    return None


def test_every_rule_dead_letter_queue_is_watched_by_an_alarm(cfn: dict[str, Any]) -> None:
    """An event that should have started a workflow and ends in a DLQ must page someone
    (EventBridge user guide, "Using dead-letter queues to process undelivered events")."""
    resources = cfn["Resources"]
    dead_letter_queues = {
        _getatt_target(target["DeadLetterConfig"]["Arn"], "Arn")
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        for target in r["Properties"]["Targets"]
        if "DeadLetterConfig" in target
    }
    watched = {
        _getatt_target(dimension["Value"], "QueueName")
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for dimension in r["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }
    assert dead_letter_queues
    assert dead_letter_queues <= watched, sorted(dead_letter_queues - watched)


# Which object keys start a run, EventBridge's wildcard semantics ("*" is any run of characters,
# "/" included) as the twin's matcher (moto's) applies them: a marker ends the key of a folder's
# parts at any depth; a dataset's own key has no "/" after the prefix.
NEW_DATASET_KEYS = {
    "datasets/breast_cancer.csv": True,
    "datasets/wine": True,
    "datasets/daily/_SUCCESS": True,
    "datasets/daily/2026-03-02/_SUCCESS": True,
    "datasets/daily/part-00000.csv": False,
    "datasets/daily/_SUCCESS.crc": False,
    "datasets/daily/": False,
    "datasets/": False,
    "datasets/x/_SUCCESS/": False,
}


@pytest.mark.parametrize(("key", "starts"), sorted(NEW_DATASET_KEYS.items()))
def test_new_dataset_rule_starts_single_files_and_markers_only(
    rules: dict, key: str, starts: bool
) -> None:
    event = _event("s3_object_created.json")
    event["detail"]["object"]["key"] = key
    assert ("TrainingPipelineNewDataset" in _matching_rules(rules, event)) is starts
