"""A dead letter is redelivered as its rule would have delivered it (EventBridge user guide,
"Transforming target input"): the event, a constant, a path's value, or a filled template."""

from __future__ import annotations

import json

import pytest

from mlops.control.errors import Refused
from mlops.control.event_input import path_value, render, target_input

EVENT = {
    "id": "e-1",
    "source": "mlops.control-plane",
    "detail-type": "Retrain Requested",
    "detail": {"reason": 'a "quoted" reason', "dataset": "latest", "tags": ["a", "b"]},
}
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/bus/retrain"


def test_without_an_input_setting_the_target_gets_the_whole_event():
    assert json.loads(target_input({"Arn": "x"}, EVENT, RULE_ARN, "retrain")) == EVENT


def test_a_constant_input_and_an_input_path():
    assert target_input({"Input": '{"a": 1}'}, EVENT, RULE_ARN, "r") == '{"a": 1}'
    assert (
        json.loads(target_input({"InputPath": "$.detail"}, EVENT, RULE_ARN, "r"))
        == (EVENT["detail"])
    )


def test_an_input_transformer_puts_objects_as_json_and_strings_in_quotes_as_text():
    target = {
        "InputTransformer": {
            "InputPathsMap": {"detail": "$.detail", "reason": "$.detail.reason"},
            "InputTemplate": '{"retrain": <detail>, "why": "<reason>", "rule": '
            '"<aws.events.rule-name>", "kept": "<unknown>"}',
        }
    }
    delivered = json.loads(target_input(target, EVENT, RULE_ARN, "retrain"))
    assert delivered == {
        "retrain": EVENT["detail"],
        "why": 'a "quoted" reason',
        "rule": "retrain",
        "kept": "<unknown>",
    }


def test_the_whole_event_is_available_to_a_template():
    assert json.loads(render("<aws.events.event>", {"aws.events.event": EVENT})) == EVENT


def test_paths_read_fields_and_list_items_and_refuse_what_they_cannot_read():
    assert path_value(EVENT, "$.detail.tags[1]") == "b"
    assert path_value(EVENT, "$.detail.missing") is None
    with pytest.raises(Refused, match="cannot read the JSON path"):
        path_value(EVENT, "$..reason")
