"""samconfig.toml read as `sam deploy --config-env ENV` reads it: the stack name, the region
and the parameter overrides of an environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.cli.samconfig import SamConfigError, parse_overrides, read_samconfig

REPO_SAMCONFIG = Path(__file__).resolve().parents[2] / "samconfig.toml"


def test_an_environment_gives_its_stack_region_and_parameter_overrides():
    config = read_samconfig(REPO_SAMCONFIG, "staging")
    assert (config.stack_name, config.region) == ("mlops-staging", "eu-west-1")
    assert config.parameter_overrides["Environment"] == "staging"
    assert config.parameter_overrides["AutoApprove"] == "false"


def test_the_default_environment_gives_the_global_stack_name_and_no_region():
    config = read_samconfig(REPO_SAMCONFIG)
    assert (config.env, config.stack_name, config.region) == ("default", "mlops-dev", None)
    assert config.parameter_overrides == {}


def test_an_unknown_environment_is_refused_naming_the_known_ones():
    with pytest.raises(SamConfigError, match=r"no environment 'qa' \(it has: default, dev"):
        read_samconfig(REPO_SAMCONFIG, "qa")


def test_without_a_samconfig_only_the_default_environment_is_allowed(tmp_path):
    assert read_samconfig(tmp_path / "samconfig.toml") is None
    with pytest.raises(SamConfigError, match="--config-env dev: no"):
        read_samconfig(tmp_path / "samconfig.toml", "dev")


def test_deploy_values_win_over_global_ones(tmp_path):
    path = tmp_path / "samconfig.toml"
    path.write_text(
        'version = 0.1\n[dev.global.parameters]\nstack_name = "g"\nregion = "eu-west-1"\n'
        '[dev.deploy.parameters]\nstack_name = "d"\nparameter_overrides = "A=1 B=\'two words\'"\n'
    )
    config = read_samconfig(path, "dev")
    assert (config.stack_name, config.region) == ("d", "eu-west-1")
    assert config.parameter_overrides == {"A": "1", "B": "two words"}


def test_overrides_take_the_key_value_and_the_cloudformation_forms():
    assert parse_overrides(["A=1", "B=x=y", "ParameterKey=C,ParameterValue=a,b"]) == {
        "A": "1",
        "B": "x=y",
        "C": "a,b",
    }
    with pytest.raises(SamConfigError, match="is not Key=Value"):
        parse_overrides(["JustAKey"])
