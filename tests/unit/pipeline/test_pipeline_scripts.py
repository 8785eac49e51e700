"""The scripts the delivery pipeline's buildspecs run (pipeline/*.py): stage and pipeline
template configurations, the immutable code publication, and the stage check that reports a
retrain's outcome and figures."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
COMMIT = "9c1f0e3a2b4d6c8e0f1a3b5c7d9e1f2a3b4c5d6e"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-staging-models/7"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"pipeline_{name}", ROOT / "pipeline" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stage_config, pipeline_config = script("stage_config"), script("pipeline_config")
publish, verify = script("publish_code"), script("verify_stage")


def test_a_stage_configuration_is_the_stage_overrides_with_the_commit_as_code_version():
    config = stage_config.configuration('{"Environment": "staging", "MinimumMetric": 0.9}', COMMIT)
    assert config == {
        "Parameters": {"Environment": "staging", "MinimumMetric": "0.9", "CodeVersion": COMMIT}
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [('{"CodeVersion": "v1"}', "CodeVersion is the commit"), ("[1]", "JSON object"), ("{", "JSON")],
)
def test_stage_overrides_that_would_hide_the_commit_or_are_not_an_object_are_refused(
    overrides, message
):
    with pytest.raises(SystemExit, match=message):
        stage_config.configuration(overrides, COMMIT)


def test_the_pipeline_configuration_keeps_every_current_parameter_value():
    environ = {"PARAM_FullRepositoryId": "acme/mlops", "PARAM_ConnectionArn": "", "PATH": "/bin"}
    assert pipeline_config.configuration(environ) == {
        "Parameters": {"ConnectionArn": "", "FullRepositoryId": "acme/mlops"}
    }


@pytest.fixture
def s3(aws: Any) -> Any:
    """moto's S3, offline even inside a build whose AWS_ENDPOINT_URL names the twin (the
    pipeline's BuildAndTest runs these tests there): the shared `aws` fixture drops it."""
    client = aws.client("s3")
    client.create_bucket(Bucket="stage-artifacts")
    return client


def test_code_is_published_once_under_the_commit_and_never_changed(s3, tmp_path):
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "train.py").write_text("print('v1')\n")
    first = publish.publish_once(s3, "stage-artifacts", COMMIT, ml)
    assert first.startswith("published") and first.endswith(f"code/{COMMIT}/")
    body = s3.get_object(Bucket="stage-artifacts", Key=f"code/{COMMIT}/sourcedir.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tarball:
        assert tarball.getnames() == ["train.py"]
    assert "already published" in publish.publish_once(s3, "stage-artifacts", COMMIT, ml)
    (ml / "train.py").write_text("print('v2')\n")
    with pytest.raises(SystemExit, match="immutable"):
        publish.publish_once(s3, "stage-artifacts", COMMIT, ml)


def test_sample_rows_are_the_datasets_first_rows_without_the_label_or_a_header():
    rows = verify.sample_rows(3).splitlines()
    assert len(rows) == 3
    assert all(len(row.split(",")) == 30 for row in rows)
    assert all(float(value) == float(value) for value in rows[0].split(","))  # numbers only


def run_output(registered: bool) -> dict[str, Any]:
    """The TrainingPipeline's output as its states leave it: each Lambda task's result under
    its ResultPath as {"Payload": ...} (statemachines/training_pipeline.asl.json)."""
    gate = {"metric": "f1", "score": 0.97123, "champion_score": 0.965, "to_beat": 0.97}
    output: dict[str, Any] = {"selection": {"Payload": {"gate": gate}}}
    if registered:
        output["registration"] = {
            "Payload": {"model_package_arn": PACKAGE, "version": 7, "approval_status": "Approved"}
        }
    return output


def test_the_run_output_shape_is_the_one_the_training_pipeline_leaves():
    definition = json.loads(
        (
            Path(__file__).resolve().parents[3] / "statemachines" / "training_pipeline.asl.json"
        ).read_text()
    )
    for state in ("SelectCandidate", "RegisterModel"):
        assert definition["States"][state]["ResultSelector"] == {"Payload.$": "$.Payload"}
    assert definition["States"]["SelectCandidate"]["ResultPath"] == "$.selection"
    assert definition["States"]["RegisterModel"]["ResultPath"] == "$.registration"


class RecordedStage:
    """What the stage's APIs answered (DescribeExecution output, DescribeModelPackage, the
    endpoint config's package tag, InvokeEndpoint), for the check's decisions."""

    def __init__(self, output: dict[str, Any], code_version: str, served: str | None) -> None:
        self.output, self.served = output, served
        self.sagemaker = self
        self.package = {
            "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": {"code_version": code_version},
        }

    def run_output(self, execution_arn: str) -> dict[str, Any]:
        return self.output

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:  # noqa: N803
        return self.package

    def served_package(self) -> str | None:
        return self.served

    def answers(self) -> int:
        return 3


ENV = {
    "STAGE": "staging",
    "COMMIT": COMMIT,
    "EXECUTION_ARN": "arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline:delivery-1",
    "VERIFY_TIMEOUT_SECONDS": "0",
}


def test_a_registered_version_built_from_the_commit_and_served_passes_with_its_figures():
    found = verify.check(RecordedStage(run_output(True), COMMIT, PACKAGE), ENV)
    assert found["OUTCOME"] == "Registered" and found["MODEL_VERSION"] == "7"
    assert (found["METRIC"], found["CHALLENGER_SCORE"], found["CHAMPION_SCORE"]) == (
        "f1",
        "0.9712",
        "0.9650",
    )
    assert found["SUMMARY"] == (
        "staging: Registered v7 (f1 0.9712 vs champion 0.9650); serves v7 from 9c1f0e3, "
        "3 rows answered; run delivery-1"
    )


def test_not_better_is_reported_with_the_gate_figures_not_hidden():
    found = verify.check(RecordedStage(run_output(False), COMMIT, "older"), ENV)
    assert found["OUTCOME"] == "NotBetter"
    assert found["SUMMARY"].startswith("staging: NotBetter (f1 0.9712 vs champion 0.9650)")


def test_a_registered_version_recording_another_commit_fails_the_check():
    with pytest.raises(verify.CheckFailed, match="records code version 'other'"):
        verify.check(RecordedStage(run_output(True), "other", PACKAGE), ENV)


def test_an_endpoint_that_never_serves_the_registered_version_fails_the_check():
    with pytest.raises(verify.CheckFailed, match="never came to serve v7"):
        verify.check(RecordedStage(run_output(True), COMMIT, "older"), ENV)


def test_a_replayed_request_is_already_handled():
    assert verify.outcome_of({"start": {}}) == "AlreadyHandled"
    assert json.loads(json.dumps(verify.gate_figures({})))["METRIC"] == ""


class RetriedStage(RecordedStage):
    """A retried stage: its run found the request handled by an earlier run, whose output
    is the recorded one."""

    def __init__(self, original: dict[str, Any]) -> None:
        super().__init__(original, COMMIT, PACKAGE)
        self.asked: list[str] = []

    def run_output(self, execution_arn: str) -> dict[str, Any]:
        self.asked.append(execution_arn)
        if execution_arn == ENV["EXECUTION_ARN"]:
            return {
                "validation": {
                    "action": "SKIP",
                    "reason": "retrain request x-staging was already handled by run "
                    "delivery-0 (SUCCEEDED)",
                }
            }
        return self.output


def test_a_retried_stage_reports_the_outcome_of_the_run_that_handled_its_request():
    stage = RetriedStage(run_output(True))
    found = verify.check(stage, ENV)
    assert stage.asked[-1].endswith(":TrainingPipeline:delivery-0")
    assert found["OUTCOME"] == "Registered" and found["MODEL_VERSION"] == "7"
    assert "already handled by run delivery-0" in found["SUMMARY"]


def test_the_answers_are_counted_per_row_as_the_inference_script_returns_them():
    assert verify.count_answers({"predictions": [1, 0, 1]}) == 3
    with pytest.raises(verify.CheckFailed, match="not predictions"):
        verify.count_answers({"error": "InvalidInput"})
