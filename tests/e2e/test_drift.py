"""Drift detection in the twin: the live endpoint captures its traffic, the DriftCheck workflow
compares it with the live version's training baseline, and drift retrains on the latest dataset.

The stack captures every request (DataCapturePercent 100) and decides on 100 rows; the
ImprovementMargin is 0 so a model retrained on the same data (equal score) is registered and
deployed: what shows that the retrain ran through to a new version serving.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mlops.cli import main
from mlops.demo.drift import SHIFTED, send_rows
from mlops.twin.stack import start_stack

ROWS_PER_REQUEST = 5
ROWS = 300


@pytest.fixture(scope="module")
def drift(harness_of) -> Iterator[Any]:
    twin = start_stack(
        DeploymentStrategy="ALL_AT_ONCE",
        DataCapturePercent="100",
        DriftMinimumRows="100",
        ImprovementMargin="0",
    )
    try:
        harness = harness_of(twin)
        for run in harness.run_upload("first.csv", harness.dataset()):
            harness.assert_status(run, "SUCCEEDED")
        yield harness
    finally:
        twin.close()


def _traffic(harness: Any, scale: dict[str, float], count: int = ROWS) -> None:
    """`count` rows of the dataset, ROWS_PER_REQUEST per CSV request, features scaled."""
    send_rows(harness.twin, harness.dataset(), scale, count, ROWS_PER_REQUEST)


def _check(harness: Any, timeout: float = 180) -> dict[str, Any]:
    """Runs one DriftCheck and returns its verdict (JudgeDrift's output)."""
    sfn = harness.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=harness.twin.outputs["DriftCheckArn"])["executionArn"]
    deadline = time.monotonic() + timeout
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, harness.why(arn)
        time.sleep(0.5)
    harness.assert_status(arn, "SUCCEEDED")
    output = json.loads(sfn.describe_execution(executionArn=arn)["output"])
    return {"arn": arn, "states": harness.states_entered(arn), **output["verdict"]["Payload"]}


def _figures(harness: Any, verdict: dict[str, Any]) -> dict[str, Any]:
    s3 = harness.client("s3")
    bucket, key = verdict["report_uri"].removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _live_version(harness: Any) -> int:
    sagemaker = harness.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=harness.twin.outputs["EndpointName"])
    return int(endpoint["EndpointConfigName"].rsplit("-v", 1)[1].split("-", 1)[0])


def test_in_distribution_traffic_does_not_drift_and_the_check_is_recorded(drift, report) -> None:
    before = set(drift.watcher.executions)
    _traffic(drift, scale={})
    verdict = _check(drift)
    assert verdict["outcome"] == "NO_DRIFT", verdict["summary"]
    assert verdict["states"][-1] == "NoDrift"
    assert verdict["rows"] >= ROWS and verdict["drifting"] == []
    figures = _figures(drift, verdict)
    report(
        "in-distribution: "
        + ", ".join(
            f"{n} PSI {figures['features'][n]['psi']:.3f} KS {figures['features'][n]['ks']:.3f}"
            for n in SHIFTED
        )  # fmt: skip
        + f"; max PSI {verdict['max_psi']:.3f}, max KS {verdict['max_ks']:.3f}"
    )
    # Nothing retrains
    time.sleep(2)
    assert [v for a, v in drift.watcher.executions.items() if a not in before] == []
    # The check is in the ledger and the notification says what it found
    ledger = drift.client("dynamodb")
    items = ledger.query(
        TableName=drift.twin.outputs["LedgerTableName"],
        KeyConditionExpression="pk = :k",
        ExpressionAttributeValues={":k": {"S": f"drift#{drift.twin.outputs['EndpointName']}"}},
    )["Items"]
    assert verdict["arn"] in {item["execution_arn"]["S"] for item in items}
    [note] = drift.notifications([verdict["arn"]])
    assert note["body"]["outcome"] == "NO_DRIFT"
    assert note["body"]["summary"].startswith("no drift in ")


def test_shifted_traffic_drifts_and_retrains_to_a_new_version_serving(drift, report) -> None:
    live = _live_version(drift)
    before = set(drift.watcher.executions)
    _traffic(drift, scale=SHIFTED)
    verdict = _check(drift)
    assert verdict["outcome"] == "DRIFT_DETECTED", verdict["summary"]
    assert verdict["states"][-1] == "DriftDetected"
    drifting = {f["feature"] for f in verdict["drifting"]}
    assert set(SHIFTED) <= drifting
    figures = _figures(drift, verdict)
    report(
        "shifted x1.6: "
        + ", ".join(
            f"{n} PSI {figures['features'][n]['psi']:.3f} KS {figures['features'][n]['ks']:.3f}"
            for n in SHIFTED
        )  # fmt: skip
        + f"; rows out of range {figures['rows_out_of_range_share']:.2f}, "
        f"prediction PSI {figures['prediction']['psi']:.3f}; drifting: {sorted(drifting)}"
    )
    [note] = drift.notifications([verdict["arn"]])
    assert note["body"]["outcome"] == "DRIFT_DETECTED"
    top = verdict["drifting"][0]["feature"]
    assert top in note["body"]["summary"]
    # The rule starts a retrain of the latest dataset, which registers and deploys a version
    runs = drift.settle(before, timeout=300)
    by_workflow = {v.workflow: v for v in runs}
    assert set(by_workflow) == {"TrainingPipeline", "DeployPipeline"}, [v.workflow for v in runs]
    for run in runs:
        drift.assert_status(run, "SUCCEEDED")
    assert _live_version(drift) == live + 1
    newest = max(drift.model_packages(), key=lambda p: p["ModelPackageVersion"])
    package = drift.client("sagemaker").describe_model_package(
        ModelPackageName=newest["ModelPackageArn"]
    )
    lineage = package["CustomerMetadataProperties"]
    assert lineage["trigger"] == "drift"
    assert lineage["requested_by"] == verdict["arn"]
    assert top in lineage["retrain_reason"] and "drift.json" in lineage["retrain_reason"]
    assert lineage["drift_baseline"].endswith("/baseline.json")


def test_a_quiet_window_decides_nothing_and_mlops_drift_shows_the_checks(
    drift, capsys, monkeypatch
) -> None:
    _traffic(drift, scale={}, count=50)  # fewer rows than DriftMinimumRows (100)
    verdict = _check(drift)
    assert verdict["outcome"] == "TOO_FEW_ROWS", verdict["summary"]
    assert verdict["states"][-1] == "TooFewRows" and verdict["rows"] >= 50
    [note] = drift.notifications([verdict["arn"]])
    assert "nothing decided" in note["body"]["summary"]
    target = ["--stack-name", drift.twin.stack.name, "--endpoint-url", drift.twin.cloud.url,
              "--region", drift.twin.cloud.region]  # fmt: skip
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the twin takes any
        monkeypatch.setenv(name, "testing")
    capsys.readouterr()
    code = main(["drift", "--json", *target])
    out = capsys.readouterr()
    assert code == 0, out.err
    checks = json.loads(out.out)
    assert checks[0]["execution"] == verdict["arn"]
    assert checks[0]["outcome"] == "TOO_FEW_ROWS" and checks[0]["rows"] == verdict["rows"]
    assert main(["drift", "--features", *target]) == 0
    shown = capsys.readouterr().out
    assert "TOO_FEW_ROWS" in shown and verdict["report_uri"] in shown
    assert "mean_radius" in shown and "OUT OF RANGE" in shown
    capsys.readouterr()
    assert main(["runs", "--workflow", "drift", "--json", *target]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert verdict["arn"] in [r["arn"] for r in runs] and {r["workflow"] for r in runs} == {
        "drift"
    }, runs
    assert main(["status", "--json", *target]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["workflows"]["drift"]["arn"] == verdict["arn"]
    assert status["latest_drift_check"]["execution"] == verdict["arn"]
    assert main(["status", *target]) == 0
    assert "Drift: last check" in capsys.readouterr().out
