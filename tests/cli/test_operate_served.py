"""`mlops` on a stack whose first upload was trained and deployed, in the twin: status, runs,
replays, retrains and dead letters, each as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cli_twin import Operated, operated

from mlops.control.timeline import TERMINAL

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


@pytest.fixture(scope="module")
def served() -> Iterator[Operated]:
    with operated(DeploymentStrategy="ALL_AT_ONCE", MaxExecutionTimeoutSeconds="3600") as stack:
        assert {v.status for v in stack.first_runs} == {"SUCCEEDED"}
        yield stack


def first_training(served: Operated):
    (run,) = [v for v in served.first_runs if v.workflow == "TrainingPipeline"]
    return run


def data_uri(served: Operated, key: str) -> str:
    outputs = served.twin.outputs
    return f"s3://{outputs['DataBucketName']}/{outputs['DataPrefix']}{key}"


def test_status_after_the_loop_shows_the_live_version_its_deployment_and_healthy_alarms(
    served, mlops
):
    result = mlops("status", "--json", *served.target)
    assert result.code == 0, result
    document = result.json
    assert document["stack"] == {
        "name": "mlops-twin",
        "status": "CREATE_COMPLETE",
        "region": "us-east-1",
    }
    endpoint = document["endpoint"]
    assert (endpoint["status"], endpoint["live_version"]) == ("InService", 1)
    assert endpoint["variants"][0]["current_weight"] == 1.0 and endpoint["deployment"] is None
    assert endpoint["variants"][0]["scaling"] is None  # AutoScaling is off by default
    assert document["champion_version"] == 1 and document["pending_approval"] == []
    assert document["workflows"]["deploy"]["outcome"] == "Deployed"
    assert {a["state"] for a in document["alarms"]} == {"OK"} and len(document["alarms"]) == 3
    assert document["dead_letters"] == 0
    human = mlops("status", *served.target).out
    assert "InService  serving v1 on mlops-twin-endpoint-v1-" in human
    assert "Champion  v1" in human and "Dead letters: 0" in human


def test_versions_lists_the_registry_with_scores_lineage_and_the_live_champion(served, mlops):
    (v1,) = mlops("versions", "--json", *served.target).json
    assert (v1["version"], v1["status"], v1["live"], v1["champion"]) == (1, "Approved", True, True)
    assert v1["metric"] == "f1" and v1["score"] >= 0.9 and v1["champion_score"] is None
    assert v1["dataset"] == data_uri(served, "first.csv")
    assert v1["code_version"] == served.twin.stack.parameters["CodeVersion"]  # ml/'s content
    # On demand: billed all the time it took, nothing saved.
    assert v1["training_seconds"] >= 1 and v1["billable_seconds"] == v1["training_seconds"]
    assert v1["spot_saving_percent"] == 0.0
    table = mlops("versions", *served.target).out.splitlines()
    headers = ["VERSION", "STATUS", "SCORE", "CHAMPION", "THEN", "DATASET", "CODE", "TRAINING",
               "CREATED"]  # fmt: skip
    assert table[0].split() == headers
    assert table[1].startswith("v1       Approved  live champion  f1=0.9")


def test_runs_show_draws_the_first_training_run_state_by_state(served, mlops):
    run = first_training(served)
    listed = mlops("runs", "--workflow", "training", "--json", *served.target).json
    assert {"name": run.name, "outcome": "Registered"}.items() <= next(
        r for r in listed if r["name"] == run.name
    ).items()
    shown = mlops("runs", "show", run.name[:8], "--json", *served.target)
    assert shown.code == 0, shown
    steps = shown.json["timeline"]
    assert [s["state"] for s in steps][:2] == ["ValidateDataset", "IsNewDatasetVersion"]
    assert steps[-1]["state"] == "Registered" and shown.json["reason"] == "new dataset version"
    trained = [s for s in steps if s["state"] == "TrainCandidate"]
    assert len(trained) == 3 and all(s["seconds"] > 0 for s in trained)
    human = mlops("runs", "show", run.name, *served.target).out
    assert human.startswith(f"TrainingPipeline {run.name}\n  SUCCEEDED Registered in ")
    assert any(line.split()[1:2] == ["TrainCandidate"] for line in human.splitlines())


def test_a_failed_run_shows_its_error_and_a_one_line_cause_without_a_stack_trace(served, mlops):
    (failed,) = served.upload("broken.csv", b"radius,malignant\nabc,1\n")
    assert failed.status == "FAILED"
    shown = mlops("runs", "show", failed.name, *served.target)
    assert shown.code == 0, shown
    (error_line,) = [line for line in shown.out.splitlines() if line.startswith("  error: ")]
    assert error_line.startswith("  error: DatasetInvalid: ")
    assert "stackTrace" not in shown.out and "Traceback" not in shown.out
    listed = mlops("runs", "--since", "10m", "--json", *served.target).json
    (row,) = [r for r in listed if r["name"] == failed.name]
    assert row["error"] == "DatasetInvalid" and "\n" not in row["cause"]


def test_a_replay_of_a_window_without_the_upload_starts_nothing(served, mlops):
    started, _ = served.uploaded
    window = ["--from", (started - timedelta(minutes=1)).isoformat()]
    window += ["--to", (started - timedelta(seconds=2)).isoformat()]
    dry = mlops("replay", *window, "--workflow", "training", "--dry-run", *served.target)
    assert dry.code == 0, dry
    assert "a replay would start nothing" in dry.out
    before = set(served.watcher.executions)
    replayed = mlops(
        "replay", *window, "--workflow", "training", "--wait", "--json", *served.target
    )
    assert replayed.code == 0, replayed
    assert (replayed.json["state"], replayed.json["runs"]) == ("COMPLETED", [])
    served.watcher.poll()
    assert set(served.watcher.executions) == before


def test_a_plain_replay_of_the_handled_upload_starts_nothing_and_trains_nothing(served, mlops):
    started, ended = served.uploaded
    window = ["--from", started.isoformat(), "--to", ended.isoformat(), "--workflow", "training"]
    dry = mlops("replay", *window, "--dry-run", "--json", *served.target)
    (held,) = dry.json["events"]
    assert held["event"] == f"aws.s3 Object Created {data_uri(served, 'first.csv')}"
    assert held["replay"] == (
        f"starts nothing: run {first_training(served).name} (REGISTERED) handled it"
    )
    jobs = len(served.twin.client("sagemaker").list_training_jobs()["TrainingJobSummaries"])
    replayed = mlops("replay", *window, "--wait", "--json", *served.target)
    assert replayed.code == 0, replayed
    assert replayed.json["runs"] == []  # RecordUpload counted the replay on the upload's item
    assert len(served.twin.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == jobs


def test_a_retrain_of_a_handled_version_without_force_is_refused_naming_the_run(served, mlops):
    result = mlops("retrain", data_uri(served, "first.csv"), "--reason", "again?", *served.target)
    assert result.code == 5, result
    assert f"was already handled by run {first_training(served).name} (REGISTERED)" in result.err
    assert "pass --force to train it again" in result.err
    missing = mlops("retrain", data_uri(served, "none.csv"), "--reason", "x", *served.target)
    assert missing.code == 4 and "no such dataset" in missing.err


def test_a_forced_retrain_of_a_handled_version_trains_it_again_as_a_new_attempt(served, mlops):
    uri = data_uri(served, "first.csv")
    result = mlops("retrain", uri, "--force", "--reason", "new features", "--json", *served.target)
    assert result.code == 0, result
    run, request = result.json["run"], result.json["request"]
    assert run["workflow"] == "training" and run["outcome"] in ("NotBetter", "Registered")
    shown = mlops("runs", "show", run["name"], "--json", *served.target).json
    assert "TrainCandidate" in [s["state"] for s in shown["timeline"]]
    # The attempt has its own ledger item, with the request's id, reason and requester.
    table = served.twin.client("dynamodb")
    items = table.scan(TableName=served.twin.outputs["LedgerTableName"])["Items"]
    (attempt,) = [i for i in items if i.get("request_id", {}).get("S") == request["request_id"]]
    assert attempt["reason"]["S"] == "new features"
    assert attempt["requested_by"]["S"] == request["requested_by"]


def test_dead_letters_are_listed_and_redriven_to_the_workflow_they_missed(served, mlops):
    # Given the TrainingPipeline is gone for a moment when an upload arrives,
    sfn = served.twin.client("stepfunctions")
    arn = served.twin.outputs["TrainingPipelineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    sfn.delete_state_machine(stateMachineArn=arn)
    try:
        served.twin.upload_dataset("late.csv", served.dataset())
        deadline = time.monotonic() + 60
        while not (letters := mlops("dlq", "--json", *served.target).json):
            assert time.monotonic() < deadline, "the undeliverable event never reached the DLQ"
            time.sleep(0.5)
        # then `mlops dlq` shows why RecordUpload could not start its run, and status counts
        # it (the function's asynchronous invocation failed three times, then dead-lettered),
        (letter,) = letters
        assert letter["rule_arn"] is None and "StateMachineDoesNotExist" in letter["error_message"]
        assert letter["event"] == f"aws.s3 Object Created {data_uri(served, 'late.csv')}"
        status = mlops("status", *served.target)
        assert "Dead letters: 1  ->  mlops dlq" in status.out, status
        assert "training  state machine missing: StateMachineDoesNotExist" in status.out
    finally:
        sfn.create_state_machine(
            name=machine["name"], definition=machine["definition"], roleArn=machine["roleArn"]
        )
    # and once the pipeline is back, a redrive trains the upload and empties the queue.
    redriven = mlops("dlq", "redrive", "--json", *served.target)
    assert redriven.code == 0, redriven
    (result,) = redriven.json
    assert result["redriven"] is True
    before = set(served.watcher.executions)
    assert result["delivered_to"] == [served.twin.stack.functions["RecordUploadFunction"].name]
    assert served.watcher.wait(lambda w: bool(set(w.executions) - before), 60)
    (execution_arn,) = set(served.watcher.executions) - before
    shown = wait_for_end(mlops, served, execution_arn)
    assert shown["status"] == "SUCCEEDED" and shown["outcome"] in ("NotBetter", "Registered")
    assert "TrainCandidate" in [s["state"] for s in shown["timeline"]]
    assert mlops("dlq", "--json", *served.target).json == []


def wait_for_end(mlops, served: Operated, execution_arn: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        shown = mlops("runs", "show", execution_arn, "--json", *served.target).json
        if shown["status"] in TERMINAL or time.monotonic() > deadline:
            return shown
        time.sleep(1)


def test_watch_prints_new_executions_live(served, mlops):
    # Given `mlops watch` running in another process,
    watch = subprocess.Popen(
        [sys.executable, "-m", "mlops.cli", "watch", "--workflow", "training"]
        + ["--timeout", "20", *served.target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        time.sleep(5)
        # when an upload starts a training run (one the contract refuses: it ends at once),
        served.twin.upload_dataset("watched.csv", b"radius,malignant\nabc,1\n")
        out, _ = watch.communicate(timeout=60)
    finally:
        watch.kill()
    # then the watch prints it as it starts, runs and ends.
    assert watch.returncode == 0, out
    lines = [line.split("] ", 1)[-1] for line in out.splitlines()]
    assert lines[0].startswith("watching TrainingPipeline of mlops-twin")
    assert any(line.startswith("TrainingPipeline ") and line.endswith(" started") for line in lines)
    ended = [line for line in lines if line.startswith("TrainingPipeline ")]
    assert any(" FAILED DatasetInvalid in " in line for line in ended), out
