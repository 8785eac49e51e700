"""The README's main command and the canary-rollback and drift scenarios run to a served
prediction."""

import pytest

from mlops.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def test_local_demo_serves_a_prediction(capsys):
    assert main(["local", "demo"]) == 0
    out = capsys.readouterr().out
    assert "TrainingPipeline" in out and "DeployPipeline" in out
    assert "InService" in out and "predicted malignant=" in out


def test_canary_rollback_scenario_ends_on_the_old_model(capsys):
    assert main(["local", "demo", "--scenario", "canary-rollback"]) == 0
    out = capsys.readouterr().out
    assert "v2 is Rejected" in out and "went to ALARM while baking" in out
    assert "-v1-" in out.split("Endpoint ")[-1]


def test_drift_scenario_retrains_on_drift_and_serves_the_new_version(capsys):
    assert main(["local", "demo", "--scenario", "drift"]) == 0
    out = capsys.readouterr().out
    assert "drift check: NO_DRIFT" in out and "drift check: DRIFT_DETECTED" in out
    assert "trigger=drift" in out and "-v2-" in out.split("Endpoint ")[-1]
