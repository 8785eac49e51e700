"""Every handler validates its settings at cold start, from the environment template.yaml sets."""

from pathlib import Path
from typing import Any

import pytest
from mlops_common import settings as settings_module
from mlops_common.errors import ConfigurationInvalid
from pydantic import BaseModel, ValidationError

FUNCTIONS_DIR = Path(__file__).resolve().parents[3] / "functions"
FUNCTIONS = sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))
SETTINGS_OF: dict[str, type[BaseModel]] = {
    "acquire_endpoint": settings_module.AcquireEndpointSettings,
    "validate_dataset": settings_module.ValidateDatasetSettings,
    "prepare_candidate": settings_module.PrepareCandidateSettings,
    "select_candidate": settings_module.SelectCandidateSettings,
    "register_model": settings_module.RegisterModelSettings,
    "plan_deployment": settings_module.DeploySettings,
    "verify_deployment": settings_module.VerifyDeploymentSettings,
    "smoke_test": settings_module.SmokeTestSettings,
    "record_outcome": settings_module.RecordOutcomeSettings,
    "plan_rollback": settings_module.RollbackSettings,
    "record_rollback": settings_module.RecordRollbackSettings,
    "compare_shadow": settings_module.ShadowSettings,
    "judge_ab_test": settings_module.ABTestSettings,
    "plan_drift_check": settings_module.DriftCheckSettings,
    "judge_drift": settings_module.JudgeDriftSettings,
    "record_upload": settings_module.RecordUploadSettings,
    "configure_scaling": settings_module.ConfigureScalingSettings,
}
# A function missing from the table fails the next test, not the collection of this module.
REQUIRED = [
    (function, name.upper())
    for function in FUNCTIONS
    if function in SETTINGS_OF
    for name, field in SETTINGS_OF[function].model_fields.items()
    if field.is_required()
]


def test_every_function_has_a_settings_model_in_this_table() -> None:
    assert sorted(SETTINGS_OF) == FUNCTIONS
    assert len(FUNCTIONS) == 17


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_cold_starts_with_the_template_environment(
    load_handler: Any, function: str
) -> None:
    module = load_handler(function)
    assert type(module.settings) is SETTINGS_OF[function]


@pytest.mark.parametrize(("function", "variable"), REQUIRED, ids=[f"{f}-{v}" for f, v in REQUIRED])
def test_missing_required_variable_fails_the_import_naming_it(
    load_handler: Any, function: str, variable: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        load_handler(function, unset=(variable,))
    [error] = excinfo.value.errors()
    assert (error["type"], error["loc"]) == ("missing", (variable.lower(),))
    assert variable.lower() in str(excinfo.value)


def test_malformed_variable_fails_the_import_naming_it(load_handler: Any) -> None:
    with pytest.raises(ValidationError) as excinfo:
        load_handler("validate_dataset", CANDIDATES='[{"name": "rf"}]')
    assert "candidates.0.algorithm" in str(excinfo.value)


@pytest.mark.parametrize("function", ["validate_dataset", "prepare_candidate", "select_candidate"])
def test_a_metric_that_does_not_suit_the_problem_type_fails_the_cold_start_by_name(
    load_handler: Any, function: str
) -> None:
    # Lambda reports an exception raised while the handler is imported under its class name:
    # the workflow's Catch sees ConfigurationInvalid before anything trained.
    with pytest.raises(ConfigurationInvalid, match="PrimaryMetric 'rmse' does not apply to bin"):
        load_handler(function, PRIMARY_METRIC="rmse")


def test_every_problem_type_cold_starts_with_its_own_metric(load_handler: Any) -> None:
    for problem, metric in [("multiclass_classification", "macro_f1"), ("regression", "rmse")]:
        module = load_handler("select_candidate", PROBLEM_TYPE=problem, PRIMARY_METRIC=metric,
                              MINIMUM_METRIC="0.5")  # fmt: skip
        assert (module.settings.problem_type, module.settings.primary_metric) == (problem, metric)


def test_a_threshold_the_metric_cannot_take_fails_validate_dataset_before_any_training(
    load_handler: Any,
) -> None:
    with pytest.raises(ConfigurationInvalid, match=r"MinimumMetric 1\.5 \(floor of f1\)"):
        load_handler("validate_dataset", MINIMUM_METRIC="1.5")
