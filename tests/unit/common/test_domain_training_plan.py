"""build_candidate_plan and job_name: the SageMaker requests one candidate's branch runs."""

import json
import re
from typing import Any

import pytest
from mlops_common.domain.training import build_candidate_plan, job_name
from mlops_common.errors import EventMalformed
from mlops_common.models import Candidate, Champion, DatasetRef, RunContext
from mlops_common.settings import PrepareCandidateSettings
from pydantic import ValidationError

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
RF = Candidate(
    name="rf", algorithm="random_forest", hyperparameters={"n_estimators": 100, "max_depth": 6}
)
CHAMPION = Champion(
    model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/2",
    version=2,
    model_data_url="s3://mlops-artifacts/runs/old/models/job/output/model.tar.gz",
)


def settings(**overrides: Any) -> PrepareCandidateSettings:
    values = {
        "artifacts_bucket": "mlops-artifacts",
        "code_version": "v7",
        "sagemaker_role_arn": ROLE,
        "training_image_uri": IMAGE,
        "model_package_group": "mlops-models",
    } | overrides
    return PrepareCandidateSettings(**values)


def run(run_id: str = "run-0001", champion: Champion | None = None) -> RunContext:
    return RunContext(
        run_id=run_id,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:train:{run_id}",
        dataset=DatasetRef(
            bucket="mlops-data",
            key="datasets/bc.csv",
            version_id="v1",
            etag="abc",
            size=10,
            rows=569,
            features=30,
            label="malignant",
            snapshot_uri=f"s3://mlops-artifacts/runs/{run_id}/data/bc.csv",
        ),
        candidates=[RF],
        champion=champion,
    )


def inputs_by_name(plan_evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["InputName"]: i["S3Input"] for i in plan_evaluation["ProcessingInputs"]}


# ---- job_name ---------------------------------------------------------------------------------


def test_job_name_is_deterministic_per_run_candidate_and_kind() -> None:
    assert job_name("mlops", "run-a", "rf", "train") == job_name("mlops", "run-a", "rf", "train")
    names = {
        job_name("mlops", r, c, k)
        for r in ("run-a", "run-b")
        for c in ("rf", "gb")
        for k in ("train", "eval")
    }
    assert len(names) == 8


def test_job_name_hashes_the_run_id_so_long_execution_names_fit() -> None:
    name = job_name("mlops", "x" * 80, "rf", "train")
    assert re.fullmatch(r"mlops-[0-9a-f]{10}-rf-train", name)


@pytest.mark.parametrize(
    "candidate",
    ["a", "rf", "a" * 20, "a" + "-b" * 9 + "c"],
    ids=["1-char", "rf", "20-chars", "20-chars-with-dashes"],
)
@pytest.mark.parametrize("kind", ["train", "eval"])
def test_job_name_is_a_valid_sagemaker_name_of_at_most_63_chars(candidate: str, kind: str) -> None:
    Candidate(name=candidate, algorithm="random_forest")  # the slug is a valid candidate name
    name = job_name("mlops", "ingest-2026-01-01T00-00-00Z-abcdef", candidate, kind)
    assert len(name) <= 63
    assert SAGEMAKER_NAME.fullmatch(name), name


def test_distinct_candidates_get_distinct_job_names_under_the_longest_settings() -> None:
    # Given the longest prefix settings allow and two valid candidates differing at the end
    prefix = settings(job_name_prefix="mlops-staging-eu").job_name_prefix
    first, second = "a" + "-b" * 9 + "b", "a" + "-b" * 9 + "c"
    for name in (first, second):
        Candidate(name=name, algorithm="random_forest")
    # When / Then
    names = {job_name(prefix, "run-a", c, k) for c in (first, second) for k in ("train", "eval")}
    assert len(names) == 4


def test_candidate_names_longer_than_20_characters_are_rejected() -> None:
    # Longer slugs would be cut off inside a 63-character job name and could collide.
    with pytest.raises(ValidationError, match="at most 20 characters"):
        Candidate(name="a" * 21, algorithm="random_forest")


# ---- build_candidate_plan -------------------------------------------------------------------


def test_plan_names_are_deterministic_per_run_id() -> None:
    first, again = (
        build_candidate_plan(run(), RF, settings()),
        build_candidate_plan(run(), RF, settings()),
    )
    other = build_candidate_plan(run("run-0002"), RF, settings())
    assert first.model_dump() == again.model_dump()
    assert first.training["TrainingJobName"] != other.training["TrainingJobName"]
    assert first.evaluation["ProcessingJobName"] != other.evaluation["ProcessingJobName"]
    for name in (first.training["TrainingJobName"], first.evaluation["ProcessingJobName"]):
        assert len(name) <= 63 and SAGEMAKER_NAME.fullmatch(name)


def test_hyperparameters_are_json_encoded_strings_with_script_mode_keys() -> None:
    plan = build_candidate_plan(run(), RF, settings())
    hyperparameters = plan.training["HyperParameters"]
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert hyperparameters == {
        "algorithm": '"random_forest"',
        "n-estimators": "100",
        "max-depth": "6",
        "label": '"malignant"',
        "test-size": "0.2",
        "seed": "42",
        "problem-type": '"binary_classification"',
        "positive-label": '"1"',
        "max-classes": "20",
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://mlops-artifacts/code/v7/sourcedir.tar.gz"',
    }
    assert {k: json.loads(v) for k, v in hyperparameters.items()}["n-estimators"] == 100


def test_training_request_reads_the_runs_snapshot_and_writes_under_the_run() -> None:
    plan = build_candidate_plan(run(), RF, settings())
    training = plan.training
    assert training["RoleArn"] == ROLE
    assert training["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert training["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    [channel] = training["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    # The run's data folder holds the snapshot alone: no look-alike key, no later overwrite.
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://mlops-artifacts/runs/run-0001/data/"
    )
    assert training["OutputDataConfig"] == {
        "S3OutputPath": "s3://mlops-artifacts/runs/run-0001/models"
    }
    assert {"Key": "mlops:run-id", "Value": "run-0001"} in training["Tags"]


def test_model_data_url_is_where_sagemaker_writes_the_training_output() -> None:
    plan = build_candidate_plan(run(), RF, settings())
    output_path = plan.training["OutputDataConfig"]["S3OutputPath"]
    assert plan.model_data_url == (
        f"{output_path}/{plan.training['TrainingJobName']}/output/model.tar.gz"
    )
    assert inputs_by_name(plan.evaluation)["candidate"]["S3Uri"] == plan.model_data_url


def test_evaluation_without_champion_has_no_champion_input() -> None:
    plan = build_candidate_plan(run(champion=None), RF, settings())
    assert set(inputs_by_name(plan.evaluation)) == {"code", "data", "candidate"}


def test_evaluation_with_champion_scores_it_from_its_model_data() -> None:
    plan = build_candidate_plan(run(champion=CHAMPION), RF, settings())
    inputs = inputs_by_name(plan.evaluation)
    assert set(inputs) == {"code", "data", "candidate", "champion"}
    assert inputs["champion"] == {
        "S3Uri": CHAMPION.model_data_url,
        "LocalPath": "/opt/ml/processing/model/champion",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }


def test_a_later_round_evaluates_the_trained_model_again_against_the_champion_of_now() -> None:
    # Given round 0 scored the candidate against no champion, and CHAMPION was approved since
    first = build_candidate_plan(run(champion=None), RF, settings())
    # When round 2 is planned
    again = build_candidate_plan(run(champion=None), RF, settings(), 2, CHAMPION)
    # Then the same trained model is scored beside CHAMPION, as a job and report of its own
    assert again.training == first.training and again.model_data_url == first.model_data_url
    assert again.champion == CHAMPION and first.champion is None
    inputs = inputs_by_name(again.evaluation)
    assert inputs["champion"]["S3Uri"] == CHAMPION.model_data_url
    assert inputs["candidate"]["S3Uri"] == first.model_data_url
    name = again.evaluation["ProcessingJobName"]
    assert name.endswith("-rf-eval-r2") and name != first.evaluation["ProcessingJobName"]
    assert again.report_uri == first.report_uri.replace("/rf/", "/rf/round-2/")


def test_evaluation_request_follows_the_processing_contract() -> None:
    plan = build_candidate_plan(run(), RF, settings(primary_metric="roc_auc"))
    evaluation = plan.evaluation
    app = evaluation["AppSpecification"]
    assert app["ImageUri"] == IMAGE
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/evaluate.py"]
    args = app["ContainerArguments"]
    assert dict(zip(args[::2], args[1::2], strict=True)) == {
        "--data-dir": "/opt/ml/processing/input/data",
        "--candidate-dir": "/opt/ml/processing/model/candidate",
        "--champion-dir": "/opt/ml/processing/model/champion",
        "--output-dir": "/opt/ml/processing/evaluation",
        "--primary-metric": "roc_auc",
        "--label": "malignant",
        "--test-size": "0.2",
        "--seed": "42",
        "--problem-type": "binary_classification",
        "--positive-label": "1",
        "--max-classes": "20",
    }
    inputs = inputs_by_name(evaluation)
    assert inputs["code"]["S3Uri"] == "s3://mlops-artifacts/code/v7/src/"
    assert inputs["data"]["S3Uri"] == "s3://mlops-artifacts/runs/run-0001/data/"
    [output] = evaluation["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/evaluation"
    assert plan.report_uri == f"{output['S3Output']['S3Uri']}/evaluation.json"
    assert plan.report_uri == "s3://mlops-artifacts/runs/run-0001/evaluation/rf/evaluation.json"


def test_a_run_without_a_snapshot_is_refused_rather_than_pointed_at_the_data_bucket() -> None:
    without = run().model_copy(
        update={"dataset": run().dataset.model_copy(update={"snapshot_uri": None})}
    )
    with pytest.raises(EventMalformed, match="^run run-0001 has no dataset snapshot to train on$"):
        build_candidate_plan(without, RF, settings())


def test_a_run_with_its_own_code_version_trains_and_evaluates_with_that_code() -> None:
    plan = build_candidate_plan(run().model_copy(update={"code_version": "v8"}), RF, settings())
    assert plan.training["HyperParameters"]["sagemaker_submit_directory"] == (
        '"s3://mlops-artifacts/code/v8/sourcedir.tar.gz"'
    )
    assert inputs_by_name(plan.evaluation)["code"]["S3Uri"] == "s3://mlops-artifacts/code/v8/src/"


def test_both_jobs_are_told_the_stacks_problem() -> None:
    regression = settings(problem_type="regression", primary_metric="rmse", label_column="y")
    plan = build_candidate_plan(run(), RF, regression)
    hyperparameters = {k: json.loads(v) for k, v in plan.training["HyperParameters"].items()}
    assert hyperparameters["problem-type"] == "regression"
    args = plan.evaluation["AppSpecification"]["ContainerArguments"]
    evaluation = dict(zip(args[::2], args[1::2], strict=True))
    assert (evaluation["--problem-type"], evaluation["--primary-metric"]) == ("regression", "rmse")
