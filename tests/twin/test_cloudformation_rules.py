"""The twin refuses a stack whose parameters break the template's Rules, as CloudFormation does
("Template rules", AWS CloudFormation User Guide), before it creates anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.cloudformation.rules import RuleFailed, check_rules
from mlops.twin.cloudformation.template import TemplateError, load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
IMAGES = {"TrainingImageUri": IMAGE, "InferenceImageUri": IMAGE}


def stack_parameters(**overrides: str) -> dict:
    template = load_template(ROOT / "template.yaml")
    return resolve_parameters(template, IMAGES | overrides)


@pytest.mark.parametrize(
    ("problem", "metric"),
    [("binary_classification", "f1"), ("binary_classification", "accuracy"),
     ("multiclass_classification", "macro_f1"), ("multiclass_classification", "accuracy"),
     ("regression", "rmse"), ("regression", "r2")],
)  # fmt: skip
def test_template_rules_accept_a_metric_of_the_problem_type(problem: str, metric: str) -> None:
    template = load_template(ROOT / "template.yaml")
    check_rules(template, stack_parameters(ProblemType=problem, PrimaryMetric=metric))


@pytest.mark.parametrize(
    ("problem", "metric", "rule"),
    [("binary_classification", "rmse", "BinaryClassificationMetric"),
     ("multiclass_classification", "f1", "MulticlassClassificationMetric"),
     ("regression", "accuracy", "RegressionMetric")],
)  # fmt: skip
def test_template_rules_refuse_a_metric_of_another_problem_type(problem, metric, rule) -> None:
    template = load_template(ROOT / "template.yaml")
    with pytest.raises(RuleFailed, match=f"rule {rule}: With ProblemType {problem}, PrimaryMetric"):
        check_rules(template, stack_parameters(ProblemType=problem, PrimaryMetric=metric))


def rules(assertion: dict, condition: dict | None = None) -> dict:
    rule: dict = {"Assertions": [{"Assert": assertion, "AssertDescription": "no"}]}
    if condition is not None:
        rule["RuleCondition"] = condition
    return {"Rules": {"R": rule}}


@pytest.mark.parametrize(
    ("assertion", "holds"),
    [
        ({"Fn::Equals": [{"Ref": "A"}, "x"]}, True),
        ({"Fn::Not": [{"Fn::Equals": [{"Ref": "A"}, "x"]}]}, False),
        ({"Fn::And": [{"Fn::Equals": ["1", "1"]}, {"Fn::Equals": [{"Ref": "A"}, "y"]}]}, False),
        ({"Fn::Or": [{"Fn::Equals": ["1", "2"]}, {"Fn::Equals": [{"Ref": "A"}, "x"]}]}, True),
        ({"Fn::Contains": [["x", "y"], {"Ref": "A"}]}, True),
        ({"Fn::Contains": [["y"], {"Ref": "A"}]}, False),
        ({"Fn::EachMemberEquals": [{"Ref": "L"}, "a"]}, False),
        ({"Fn::EachMemberIn": [{"Ref": "L"}, ["a", "b", "c"]]}, True),
        ({"Fn::EachMemberIn": [{"Ref": "L"}, ["a"]]}, False),
    ],
)
def test_rule_functions_evaluate_on_parameter_values(assertion: dict, holds: bool) -> None:
    parameters = {"A": "x", "L": ["a", "b"]}
    if holds:
        check_rules(rules(assertion), parameters)
    else:
        with pytest.raises(RuleFailed, match="^rule R: no$"):
            check_rules(rules(assertion), parameters)


def test_a_rule_whose_condition_does_not_hold_does_not_apply() -> None:
    never = {"Fn::Equals": ["1", "2"]}
    check_rules(rules(never, condition={"Fn::Equals": [{"Ref": "A"}, "other"]}), {"A": "x"})


def test_a_rule_function_the_twin_cannot_evaluate_is_named() -> None:
    with pytest.raises(TemplateError, match="Fn::ValueOf is not supported by the twin"):
        check_rules(rules({"Fn::ValueOf": ["A", "VpcId"]}), {"A": "x"})


def test_provisioning_a_stack_that_breaks_a_rule_creates_nothing(local_cloud, tmp_path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Parameters:\n  Kind:\n    Type: String\n    Default: a\n"
        "Rules:\n  KindIsA:\n    Assertions:\n"
        "      - Assert: !Equals [!Ref Kind, a]\n        AssertDescription: Kind must be a.\n"
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
    )
    s3 = local_cloud.client("s3")
    before = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    provisioner = Provisioner(
        local_cloud.client, local_cloud.runtime, tmp_path, local_cloud.account, local_cloud.region
    )
    with pytest.raises(RuleFailed, match="rule KindIsA: Kind must be a."):
        provisioner.deploy("ruled", template, {"Kind": "b"})
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == before
    provisioner.deploy("ruled", template, {})  # the default holds: the bucket is created
    assert len({b["Name"] for b in s3.list_buckets()["Buckets"]} - before) == 1
