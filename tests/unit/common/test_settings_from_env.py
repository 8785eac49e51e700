"""Settings read from the environment the template sets, validated once at cold start."""

import json

import pytest
from mlops_common.errors import ConfigurationInvalid
from mlops_common.settings import (
    RegisterModelSettings,
    SelectCandidateSettings,
    SmokeTestSettings,
    ValidateDatasetSettings,
)
from pydantic import ValidationError

CANDIDATES = [
    {"name": "rf", "algorithm": "random_forest", "hyperparameters": {"n_estimators": 100}},
    {"name": "logreg", "algorithm": "logistic_regression"},
]


@pytest.fixture
def validate_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in {
        "LEDGER_TABLE": "ledger",
        "DATA_BUCKET": "data",
        "DATA_PREFIX": "datasets/",
        "ARTIFACTS_BUCKET": "artifacts",
        "MODEL_PACKAGE_GROUP": "models",
        "CANDIDATES": json.dumps(CANDIDATES),
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_candidates_are_parsed_from_the_json_parameter(validate_env: pytest.MonkeyPatch) -> None:
    settings = ValidateDatasetSettings()
    assert [c.name for c in settings.candidates] == ["rf", "logreg"]
    assert settings.candidates[0].hyperparameters == {"n_estimators": 100}
    assert (settings.label_column, settings.min_rows) == ("malignant", 50)


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ([], "List should have at least 1 item"),
        ([CANDIDATES[0], CANDIDATES[0]], "candidate names must be unique, got ['rf', 'rf']"),
        ([{"name": "RF!", "algorithm": "random_forest"}], "String should match pattern"),
        ([{"name": "svm", "algorithm": "SVM!"}], "String should match pattern"),
    ],
)
def test_bad_candidate_configuration_fails_at_cold_start(
    validate_env: pytest.MonkeyPatch, candidates: list, message: str
) -> None:
    validate_env.setenv("CANDIDATES", json.dumps(candidates))
    with pytest.raises(ValidationError, match="candidates") as excinfo:
        ValidateDatasetSettings()
    assert message in str(excinfo.value)


def test_template_number_and_boolean_strings_are_coerced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIMUM_METRIC", "0.9")
    monkeypatch.setenv("IMPROVEMENT_MARGIN", "0.005")
    assert SelectCandidateSettings().minimum_metric == 0.9
    for value, expected in (("true", True), ("false", False)):
        monkeypatch.setenv("AUTO_APPROVE", value)
        settings = RegisterModelSettings(
            artifacts_bucket="a",
            code_version="v1",
            model_package_group="g",
            inference_image_uri="i",
            ledger_table="l",
        )
        assert settings.auto_approve is expected


def test_code_location_uris_follow_the_publish_layout() -> None:
    settings = RegisterModelSettings(
        artifacts_bucket="art",
        code_version="v7",
        model_package_group="g",
        inference_image_uri="i",
        ledger_table="l",
    )
    assert settings.sourcedir_uri == "s3://art/code/v7/sourcedir.tar.gz"
    assert settings.source_files_uri == "s3://art/code/v7/src/"


def test_keyword_arguments_take_precedence_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", "from-env")
    monkeypatch.setenv("SMOKE_ROWS", "7")
    assert SmokeTestSettings().model_package_group == "from-env"
    assert SmokeTestSettings(model_package_group="given").model_package_group == "given"
    assert SmokeTestSettings(smoke_rows=3).smoke_rows == 3


def test_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", "g")
    settings = SmokeTestSettings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.smoke_rows = 1  # type: ignore[misc]


# ---- the stack's problem, checked at cold start --------------------------------------------


def test_a_metric_of_another_problem_type_fails_the_cold_start_by_name(
    validate_env: pytest.MonkeyPatch,
) -> None:
    validate_env.setenv("PROBLEM_TYPE", "regression")
    validate_env.setenv("PRIMARY_METRIC", "f1")
    validate_env.setenv("CANDIDATES", json.dumps(CANDIDATES[:1]))
    with pytest.raises(ConfigurationInvalid, match="PrimaryMetric 'f1' does not apply to regr"):
        ValidateDatasetSettings()
    with pytest.raises(ConfigurationInvalid, match="PrimaryMetric 'f1' does not apply to regr"):
        SelectCandidateSettings()


def test_candidates_that_cannot_solve_the_problem_fail_the_cold_start(
    validate_env: pytest.MonkeyPatch,
) -> None:
    validate_env.setenv("PROBLEM_TYPE", "regression")
    validate_env.setenv("PRIMARY_METRIC", "rmse")
    with pytest.raises(ConfigurationInvalid, match="candidate logreg: logistic_regression does"):
        ValidateDatasetSettings()


def test_the_problem_settings_read_the_template_variables(validate_env) -> None:
    for name, value in {"LABEL_COLUMN": "cultivar", "PROBLEM_TYPE": "multiclass_classification",
                        "PRIMARY_METRIC": "macro_f1", "MAX_CLASSES": "5",
                        "POSITIVE_LABEL": "yes"}.items():  # fmt: skip
        validate_env.setenv(name, value)
    settings = ValidateDatasetSettings()
    assert (settings.label_column, settings.problem_type, settings.max_classes) == (
        "cultivar", "multiclass_classification", 5,
    )  # fmt: skip
    assert settings.positive_label == "yes"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PRIMARY_METRIC": "rmse", "PROBLEM_TYPE": "regression", "MINIMUM_METRIC": "-3"},
         "MinimumMetric -3.0 (ceiling of rmse)"),
        ({"PRIMARY_METRIC": "f1", "MINIMUM_METRIC": "1.2"}, "MinimumMetric 1.2 (floor of f1)"),
    ],
)  # fmt: skip
def test_a_threshold_the_metric_cannot_take_fails_the_select_cold_start(
    monkeypatch: pytest.MonkeyPatch, variables: dict, message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationInvalid) as excinfo:
        SelectCandidateSettings()
    assert message in str(excinfo.value)


def test_regression_thresholds_are_in_the_labels_units(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"PRIMARY_METRIC": "rmse", "PROBLEM_TYPE": "regression",
                        "MINIMUM_METRIC": "65", "IMPROVEMENT_MARGIN": "2.5"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = SelectCandidateSettings()
    assert (settings.minimum_metric, settings.improvement_margin) == (65.0, 2.5)
