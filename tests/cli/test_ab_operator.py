"""An operator decides an A/B test early, in the twin: `mlops ab labels` uploads ground truth,
`mlops ab status` shows the running test, `mlops ab stop` ends it at the DeployPipeline's next
poll (the live version alone, the candidate rejected, ABTestStopped), and a second decision is
refused. Every call is one the OperatorPolicy allows (cli_twin)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from cli_twin import Operated, operated

from mlops.demo.scenarios import register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

OPERATOR = "arn:aws:sts::123456789012:user/moto"  # moto's GetCallerIdentity


@pytest.fixture(scope="module")
def served() -> Iterator[Operated]:
    # The rule alone would wait ten minutes: only the operator ends this test.
    with operated(
        ABTestMode="true", ABWindowSeconds="600", ABMinRequests="100000",
        DeploymentStrategy="ALL_AT_ONCE",
    ) as stack:  # fmt: skip
        yield stack


def running_status(mlops, served: Operated, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = mlops("ab", "status", "--json", *served.target)
        if shown.code == 0 and shown.json["state"] == "RUNNING":
            return shown.json
        assert shown.code in (0, 4), shown  # 4: not found until JudgeABTest first looks
        time.sleep(0.5)
    raise AssertionError("no A/B test running")


def test_an_operator_stops_a_running_ab_test_early_with_labels_uploaded(
    served, mlops, tmp_path
) -> None:
    # Given labels for two requests, uploaded as documented
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,label\nr1,1\nr2,0\n")
    uploaded = mlops("ab", "labels", str(labels), "--json", *served.target)
    assert uploaded.code == 0, uploaded
    endpoint = served.twin.outputs["EndpointName"]
    assert uploaded.json["labels"] == 2
    assert f"/ab-labels/{endpoint}/" in uploaded.json["uri"]
    # And a candidate approved while v1 serves: its A/B test starts
    (v1,) = mlops("versions", "--json", *served.target).json
    before = set(served.watcher.executions)
    register_version(served.twin, v1["arn"])
    test = running_status(mlops, served)
    assert test["version"] == 2 and test["time_left_seconds"] > 0
    assert [(v["variant"], v["weight_percent"]) for v in
            (test["comparison"]["live"], test["comparison"]["candidate"])] == [
        ("AllTraffic", 90), ("Candidate", 10),
    ]  # fmt: skip
    assert "100000 requests" in test["rule"]
    human = mlops("ab", "status", *served.target)
    assert "A/B test of version 2" in human.out and "Candidate" in human.out
    # When the operator stops it
    stopped = mlops("ab", "stop", "--reason", "complaints from the pilot", "--json",
                    *served.target)  # fmt: skip
    assert stopped.code == 0, stopped
    assert (stopped.json["decision"], stopped.json["requested_by"]) == ("STOP", OPERATOR)
    # Then a second decision is refused: the first stands
    assert mlops("ab", "promote", "--reason", "changed my mind", *served.target).code == 5
    # And the DeployPipeline ends the test: v1 alone, v2 rejected with the operator's word
    runs = served.settle(before)
    outcomes = [v.outcome for v in runs if v.workflow == "DeployPipeline"]
    assert "ABTestStopped" in outcomes, outcomes
    described = served.twin.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["AllTraffic"]
    assert "-v1-" in described["EndpointConfigName"]
    v2 = next(v for v in mlops("versions", "--json", *served.target).json if v["version"] == 2)
    assert v2["status"] == "Rejected"
    shown = mlops("ab", "status", "--json", *served.target).json
    assert (shown["state"], shown["comparison"]["decided_by"]) == ("STOP", OPERATOR)
    assert shown["comparison"]["reason"] == "operator: complaints from the pilot"
    # With nothing running, a decision is refused
    assert mlops("ab", "stop", "--reason", "again", *served.target).code == 5
