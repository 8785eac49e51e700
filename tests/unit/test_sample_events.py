"""The sample events in events/ (shared with `sam local invoke -e`) are what AWS and our state
machines really send: AWS envelopes for the rules, and for each function the payload its ASL
task builds, valid against the handler's own input model."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from mlops_common import models
from mlops_common.domain.deployment import verify_deployment
from mlops_common.domain.events import parse_model_package_change, parse_s3_upload
from mlops_common.errors import EventMalformed

from mlops.twin.cloudformation.template import load_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
RULE_FILES = sorted(
    p.relative_to(EVENTS / "rules").as_posix() for p in (EVENTS / "rules").rglob("*.json")
)
ENVELOPE = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$")
# $$.Execution as Step Functions passes it (the context object).
CONTEXT_EXECUTION = {"Id", "Input", "Name", "RoleArn", "StartTime"}


def _load(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


def _input_model_name(function: str) -> str:
    """The `model=` of the handler's @handler decorator, read from its source (importing the
    handler would need its environment)."""
    tree = ast.parse((ROOT / "functions" / function / "app.py").read_text(encoding="utf-8"))
    names = [
        keyword.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "handler"
        for keyword in node.keywords
        if keyword.arg == "model" and isinstance(keyword.value, ast.Name)
    ]
    assert len(names) == 1, f"{function}: expected one @handler(model=...), got {names}"
    return names[0]


def _asl_payloads() -> dict[str, list[dict[str, Any]]]:
    """functions/<dir> -> the Payload of every ASL Lambda task that invokes it."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    code_dir = {
        logical: Path(r["Properties"]["CodeUri"]).name
        for logical, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    payloads: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        props = resource["Properties"]
        targets = {
            name: value["Fn::GetAtt"][0]
            for name, value in props["DefinitionSubstitutions"].items()
            if isinstance(value, dict) and "Fn::GetAtt" in value
        }
        definition = json.loads((ROOT / props["DefinitionUri"]).read_text(encoding="utf-8"))
        for state in _states(definition):
            if state.get("Resource") != "arn:aws:states:::lambda:invoke":
                continue
            substitution = state["Parameters"]["FunctionName"].strip("${}")
            payloads.setdefault(code_dir[targets[substitution]], []).append(
                state["Parameters"]["Payload"]
            )
    return payloads


def _states(scope: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in scope["States"].values():
        found.append(state)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                found += _states(state[key])
    return found


ASL_PAYLOADS = _asl_payloads()


#: Functions an EventBridge rule invokes with its event (their sample is that event).
RULE_TARGETS = {"record_upload": "s3_object_created.json"}
ASL_FUNCTIONS = [f for f in FUNCTIONS if f not in RULE_TARGETS]


def test_every_function_has_one_sample_payload() -> None:
    samples = sorted(p.stem for p in (EVENTS / "functions").glob("*.json"))
    assert samples == FUNCTIONS


@pytest.mark.parametrize("function", sorted(RULE_TARGETS))
def test_a_rule_target_s_sample_is_the_rule_event_it_receives_whole(function: str) -> None:
    sample = _load(f"functions/{function}.json")
    assert sample == _load(f"rules/{RULE_TARGETS[function]}")
    assert getattr(models, _input_model_name(function)).model_validate(sample).event == sample
    assert not ASL_PAYLOADS.get(function), f"{function} is a rule target, not an ASL task"


@pytest.mark.parametrize("function", ASL_FUNCTIONS)
def test_sample_parses_with_the_handlers_input_model(function: str) -> None:
    model = getattr(models, _input_model_name(function))
    sample = _load(f"functions/{function}.json")
    model.model_validate(sample)
    # Every field the sample carries is one the model declares (extra="ignore" would hide typos).
    assert set(sample) <= {field.alias or name for name, field in model.model_fields.items()}


def _optional_fields(function: str) -> set[str]:
    model = getattr(models, _input_model_name(function))
    return {field.alias or name for name, field in model.model_fields.items()
            if not field.is_required()}  # fmt: skip


@pytest.mark.parametrize("function", ASL_FUNCTIONS)
def test_sample_has_the_shape_its_asl_task_sends(function: str) -> None:
    sample = _load(f"functions/{function}.json")
    payloads = ASL_PAYLOADS[function]
    assert payloads, f"no ASL task invokes {function}"
    shapes = [{key.removesuffix(".$") for key in payload} for payload in payloads]
    assert set(sample) in shapes
    # Tasks invoking the same function differ at most by literal, optional fields (the
    # RollbackPipeline's `"reject_on_rollback": false`); every other key is in the sample.
    optional = _optional_fields(function)
    for payload, shape in zip(payloads, shapes, strict=True):
        literals = {k for k in payload if not k.endswith(".$")}
        assert shape - set(sample) <= literals & optional, payload
        assert set(sample) - shape <= optional, payload
    literal_sets = [
        {k: v for k, v in p.items() if not k.endswith(".$")}
        for p, shape in zip(payloads, shapes, strict=True)
        if shape == set(sample)
    ]
    assert any(all(sample[k] == v for k, v in literals.items()) for literals in literal_sets)


@pytest.mark.parametrize("function", ASL_FUNCTIONS)
def test_every_asl_payload_of_a_function_parses_with_its_input_model(function: str) -> None:
    """Each task's payload, its paths filled from the sample, validates: a literal the model
    would refuse (a typo, a string for a bool) fails here rather than in the workflow."""
    model = getattr(models, _input_model_name(function))
    sample = _load(f"functions/{function}.json")
    for payload in ASL_PAYLOADS[function]:
        filled = {
            key.removesuffix(".$"): sample[key.removesuffix(".$")] if key.endswith(".$") else value
            for key, value in payload.items()
        }
        parsed = model.model_validate(filled)
        for key, value in payload.items():
            if not key.endswith(".$") and not isinstance(value, dict | list):
                assert getattr(parsed, key) == value, (function, key)


@pytest.mark.parametrize(
    "function", sorted(f for f, ps in ASL_PAYLOADS.items() if any("execution.$" in p for p in ps))
)
def test_execution_is_the_step_functions_context_object(function: str) -> None:
    execution = _load(f"functions/{function}.json")["execution"]
    assert set(execution) >= CONTEXT_EXECUTION
    assert ISO_Z.match(execution["StartTime"])
    assert execution["Id"].endswith(f":{execution['Name']}")
    assert execution["Id"].startswith("arn:aws:states:us-east-1:123456789012:execution:")


@pytest.mark.parametrize(
    ("function", "rule_event"),
    [
        ("validate_dataset", "s3_object_created.json"),
        ("plan_deployment", "model_package_approved.json"),
    ],
)
def test_workflow_entry_payload_carries_the_rule_event(function: str, rule_event: str) -> None:
    sample = _load(f"functions/{function}.json")
    event = _load(f"rules/{rule_event}")
    assert sample["event"] == event
    assert sample["execution"]["Input"] == event  # the execution was started with this event


@pytest.mark.parametrize("name", RULE_FILES)
def test_rule_event_has_the_eventbridge_envelope(name: str) -> None:
    event = _load(f"rules/{name}")
    assert set(event) == ENVELOPE
    assert event["version"] == "0" and UUID.match(event["id"])
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
    assert isinstance(event["source"], str)  # the SMG sample repeats it as a list
    assert ISO_Z.match(event["time"])
    # AWS services name what the event is about; the control plane's own events need not.
    assert event["resources"] or not event["source"].startswith("aws.")


def test_sample_event_ids_are_unique() -> None:
    ids = [_load(f"rules/{name}")["id"] for name in RULE_FILES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", [n for n in RULE_FILES if "s3_" in n])
def test_s3_events_have_the_s3_eventbridge_shape(name: str) -> None:
    event = _load(f"rules/{name}")
    parsed = S3EventNotificationEventBridgeModel.model_validate(event)
    assert event["resources"] == [f"arn:aws:s3:::{parsed.detail.bucket.name}"]
    assert set(event["detail"]["object"]) >= {"key", "version-id", "sequencer"}


def test_s3_object_created_is_the_dataset_upload() -> None:
    event = _load("rules/s3_object_created.json")
    upload = parse_s3_upload(event)
    assert (upload.bucket, upload.key) == (
        "mlops-dev-databucket-example",
        "datasets/breast_cancer.csv",
    )
    assert upload.version_id == event["detail"]["object"]["version-id"] and upload.etag
    assert event["detail"]["reason"] == "PutObject"
    assert event["detail"]["object"]["size"] == (ROOT / "ml/data/breast_cancer.csv").stat().st_size


def test_object_deleted_is_rejected_by_the_dataset_parser() -> None:
    with pytest.raises(EventMalformed, match="Object Deleted"):
        parse_s3_upload(_load("rules/near_miss/s3_object_deleted.json"))


@pytest.mark.parametrize("name", [n for n in RULE_FILES if "model_package" in n])
def test_model_package_events_parse_as_state_changes(name: str) -> None:
    event = _load(f"rules/{name}")
    detail = parse_model_package_change(event).detail
    assert event["resources"] == [detail.ModelPackageArn]
    assert detail.ModelPackageArn.endswith(
        f":model-package/{detail.ModelPackageGroupName}/{detail.ModelPackageVersion}"
    )
    assert {"CreationTime", "ModelMetrics", "InferenceSpecification"} <= set(event["detail"])


def test_approved_event_is_for_the_stack_group() -> None:
    detail = parse_model_package_change(_load("rules/model_package_approved.json")).detail
    assert (detail.ModelPackageGroupName, detail.ModelApprovalStatus) == (
        "mlops-dev-models",
        "Approved",
    )
    assert detail.ModelPackageStatus == "Completed"


def test_run_candidates_are_the_template_defaults() -> None:
    default = load_template(ROOT / "template.yaml")["Parameters"]["CandidateConfigs"]["Default"]
    run = _load("functions/prepare_candidate.json")["run"]
    assert run["candidates"] == json.loads(default)


def test_verify_sample_is_a_deployment_on_the_target_config() -> None:
    sample = models.VerifyDeploymentInput.model_validate(_load("functions/verify_deployment.json"))
    # The success path never touches the registry, so none is given.
    result = verify_deployment(sample.plan, sample.endpoint, registry=None)  # type: ignore[arg-type]
    assert result.endpoint_config_name == sample.plan.endpoint_config["EndpointConfigName"]
