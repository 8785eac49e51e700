"""samconfig.toml stays deployable: one section per environment, every override is a template
parameter that accepts the value, and the image URIs are what the sagemaker SDK resolves."""

import tomllib
from pathlib import Path

import pytest

from mlops.images import sklearn_image_uri
from mlops.twin.cloudformation.template import load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text())
TEMPLATE = load_template(ROOT / "template.yaml")


def overrides(env: str) -> dict[str, str]:
    pairs = CONFIG[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_overrides_only_template_parameters_with_accepted_values(env):
    values = overrides(env)
    assert set(values) <= set(TEMPLATE["Parameters"])
    assert values["Environment"] == env
    resolve_parameters(TEMPLATE, values)  # raises on AllowedValues / AllowedPattern


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_image_uris_are_the_sdk_resolution_for_the_region(env):
    region = CONFIG[env]["deploy"]["parameters"]["region"]
    values = overrides(env)
    assert values["TrainingImageUri"] == values["InferenceImageUri"] == sklearn_image_uri(region)


def test_production_changes_need_confirmation():
    assert CONFIG["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
