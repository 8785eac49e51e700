"""A training script that crashes: every job ends Failed with the script's reason, the run fails
by name, nothing is registered, and an operator is told. Needs a stack of its own (its code
version is broken on purpose: code versions are immutable, so the stack is started with it)."""

from __future__ import annotations

import shutil

import pytest

from mlops.twin.stack import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def test_crashing_training_script_fails_the_job_and_the_run_with_named_errors(make_stack, tmp_path):
    # Given a stack whose code version's train.py crashes,
    broken_ml = tmp_path / "ml"
    shutil.copytree(ROOT / "ml", broken_ml, ignore=shutil.ignore_patterns("data"))
    (broken_ml / "train.py").write_text(
        "raise RuntimeError('feature store unreachable: simulated crash')\n"
    )
    fresh = make_stack(ml_dir=broken_ml)
    # when a dataset arrives,
    (run,) = fresh.run_upload("data.csv", fresh.dataset())
    # then each job ends Failed with the script's reason and the run fails by name.
    jobs = fresh.training_jobs()
    assert len(jobs) == 3 and {j["TrainingJobStatus"] for j in jobs} == {"Failed"}
    reason = fresh.client("sagemaker").describe_training_job(
        TrainingJobName=jobs[0]["TrainingJobName"]
    )["FailureReason"]
    assert "simulated crash" in reason
    fresh.assert_status(run, "FAILED", error="TrainingFailed")
    assert "simulated crash" in run.cause
    assert fresh.model_packages() == []
    (failure,) = [m["body"] for m in fresh.notifications([run]) if m["body"]["outcome"] == "FAILED"]
    assert failure["error"] == "TrainingFailed"
