"""Settings read from the environment the template sets, validated once at cold start."""

import json

import pytest
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
        ([{"name": "svm", "algorithm": "svm"}], "Input should be 'random_forest'"),
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
        )
        assert settings.auto_approve is expected


def test_code_location_uris_follow_the_publish_layout() -> None:
    settings = RegisterModelSettings(
        artifacts_bucket="art", code_version="v7", model_package_group="g", inference_image_uri="i"
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
