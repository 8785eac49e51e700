"""A/B tests in the twin: each candidate first serves a weighted share of live traffic as a
second production variant; the decision promotes it through the guarded rollout or stops it,
the live version then serving alone. Callers pass InferenceId, so labels uploaded under
s3://<artifacts>/ab-labels/<endpoint>/ are joined with each variant's captured answers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import publish_faulty_code, register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

# Real seconds (Wait states are not on the twin's compressed clock). Model latencies are a few
# milliseconds on shared cores, where scheduling noise alone can double them: the latency rule
# is tested in the unit tests, here it must not decide. The variants answer different random
# requests, so the same model's accuracy differs between them by sampling alone: a tolerance.
AB = {"ABTestMode": "true", "ABCandidateWeightPercent": "20", "ABMinRequests": "60",
      "ABWindowSeconds": "90", "ABMaxLatencyRatio": "10",
      "ABMinQualityDifference": "-0.1"}  # fmt: skip
ROWS = 50


class LabelledTraffic:
    """One-row requests with an InferenceId (`r<n>`), counting the variant each answer names
    (InvokedProductionVariant) and the errors."""

    def __init__(self, h: Any, rows: list[str], interval: float = 0.03) -> None:
        self._h, self._rows, self._interval = h, rows, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ab-traffic", daemon=True)
        self.served: Counter[str] = Counter()
        self.errors = 0

    def start(self) -> LabelledTraffic:
        self._thread.start()
        return self

    def stop(self) -> LabelledTraffic:
        self._stop.set()
        self._thread.join(timeout=30)
        return self

    def _run(self) -> None:
        runtime = self._h.client("sagemaker-runtime")
        n = 0
        while not self._stop.is_set() and n < 20_000:
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=self._h.twin.outputs["EndpointName"],
                    ContentType="text/csv",
                    Body=self._rows[n % ROWS].encode(),
                    InferenceId=f"r{n}",
                )
                self.served[answer["InvokedProductionVariant"]] += 1
            except runtime.exceptions.ClientError:
                self.errors += 1
            n += 1
            self._stop.wait(self._interval)


def upload_labels(h: Any, labels: list[str]) -> None:
    """The ground truth of every request the traffic can send, as `mlops ab labels` uploads."""
    body = "inference_id,label\n" + "".join(f"r{n},{labels[n % ROWS]}\n" for n in range(20_000))
    h.client("s3").put_object(
        Bucket=h.twin.outputs["ArtifactsBucketName"],
        Key=f"ab-labels/{h.twin.outputs['EndpointName']}/labels.csv",
        Body=body.encode(),
    )


def live_version(h: Any) -> int:
    config = h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])[
        "EndpointConfigName"
    ]
    return int(config.rsplit("-v", 1)[1].split("-")[0])


def package(h: Any, version: int) -> dict:
    arn = next(
        p["ModelPackageArn"] for p in h.model_packages() if p["ModelPackageVersion"] == version
    )
    return h.client("sagemaker").describe_model_package(ModelPackageName=arn)


def acting(runs: list, h: Any) -> Any:
    """The DeployPipeline run that acted (a package update also starts runs that skip)."""
    (run,) = [
        v
        for v in runs
        if v.workflow == "DeployPipeline" and "CreateModel" in h.states_entered(v.arn)
    ]
    return run


def pinned_while_testing(h: Any, row: str, timeout: float = 60) -> dict[str, set[str]]:
    """Once the A/B config serves, ten requests pinned to each variant with TargetVariant:
    which variants answered them."""
    sagemaker, runtime = h.client("sagemaker"), h.client("sagemaker-runtime")
    name = h.twin.outputs["EndpointName"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        if endpoint["EndpointConfigName"].endswith("-ab") and (
            endpoint["EndpointStatus"] == "InService"
        ):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the A/B config never served")
    weights = {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}
    assert weights == {"AllTraffic": 80.0, "Candidate": 20.0}
    answered: dict[str, set[str]] = {}
    for target in ("Candidate", "AllTraffic"):
        answered[target] = {
            runtime.invoke_endpoint(
                EndpointName=name, ContentType="text/csv", Body=row.encode(), TargetVariant=target
            )["InvokedProductionVariant"]
            for _ in range(10)
        }
    return answered


def test_ab_test_promotes_an_equal_candidate_and_stops_a_faulty_one(make_stack, tmp_path):
    h = make_stack(**AB)
    h.run_upload("first.csv", h.dataset())
    assert live_version(h) == 1
    v1_arn = package(h, 1)["ModelPackageArn"]
    text, labels = sample_rows(h.dataset(), ROWS)
    rows = text.splitlines()
    upload_labels(h, labels)

    # An equal candidate: the same model, served again, promoted through the guarded rollout
    traffic = LabelledTraffic(h, rows).start()
    before = set(h.watcher.executions)
    register_version(h.twin, v1_arn)
    pinned = pinned_while_testing(h, rows[0])
    runs = h.settle(before)
    traffic.stop()
    deploy = acting(runs, h)
    h.assert_status(deploy, "SUCCEEDED")
    states = h.states_entered(deploy.arn)
    assert states[-1] == "Deployed", (h.why(deploy), [m["body"] for m in h.notifications(runs)])
    assert {"StartABTest", "ABPoll", "JudgeABTest", "ABPromoting", "ArmLatencyAlarm"} <= set(states)
    assert pinned == {"Candidate": {"Candidate"}, "AllTraffic": {"AllTraffic"}}
    assert traffic.served["Candidate"] > 0 and traffic.errors == 0
    assert live_version(h) == 2
    meta = package(h, 2)["CustomerMetadataProperties"]
    assert (meta["ab_decision"], meta["ab_decided_by"]) == ("PROMOTE", "rule")
    live_requests, candidate_requests = map(int, meta["ab_requests"].split("/"))
    assert candidate_requests >= 60
    # The weights split the traffic: 20 % to the candidate, give or take the pinned requests
    assert 0.1 <= candidate_requests / (live_requests + candidate_requests) <= 0.35, meta
    # Labels joined on the inference id: the same model, the same accuracy on the same rows
    metric, figures = meta["ab_quality"].split(" ")
    assert metric == "accuracy", meta
    live_quality, candidate_quality = map(float, figures.split("/"))
    assert candidate_quality >= live_quality - 0.1
    endpoint = h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["AllTraffic"]
    assert len(h.twin.cloud.hosting.servers(h.twin.outputs["EndpointName"])) == 1

    # A faulty candidate: half of its answers fail; the test stops it, live v2 serves alone
    faulty = publish_faulty_code(h.twin, "faulty", tmp_path)
    traffic = LabelledTraffic(h, rows).start()
    before = set(h.watcher.executions)
    register_version(h.twin, v1_arn, faulty)
    runs = h.settle(before)
    traffic.stop()
    deploy = acting(runs, h)
    h.assert_status(deploy, "SUCCEEDED")
    assert h.states_entered(deploy.arn)[-1] == "ABTestStopped", h.why(deploy)
    assert live_version(h) == 2
    assert traffic.errors > 0, "the candidate answered its share of production traffic"
    v3 = package(h, 3)
    assert v3["ModelApprovalStatus"] == "Rejected"
    assert v3["ApprovalDescription"].startswith("A/B test stopped it: error rate")
    assert v3["CustomerMetadataProperties"]["ab_decision"] == "STOP"
    (message,) = [
        m["body"] for m in h.notifications(runs) if m["body"]["outcome"] == "AB_TEST_STOPPED"
    ]
    assert message["ab_result"]["decision"] == "STOP"
    assert message["ab_result"]["candidate"]["error_rate"] > 0.2
    endpoint = h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["AllTraffic"]
    assert len(h.twin.cloud.hosting.servers(h.twin.outputs["EndpointName"])) == 1
