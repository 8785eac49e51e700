"""Shadow mode in the twin: each candidate first answers copies of live traffic beside the
live model; the comparison promotes it (guarded rollout) or discards it. Production answers
come only from the live variant throughout."""

from __future__ import annotations

import pytest

from mlops.demo.loop import sample_rows
from mlops.demo.scenarios import TrafficClient, publish_faulty_code, register_version

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

# Real seconds: Wait states are not on the twin's compressed clock.
SHADOW = {"ShadowMode": "true", "ShadowWindowSeconds": "8", "ShadowMinRequests": "20"}


def live_version(h) -> int:
    config = h.client("sagemaker").describe_endpoint(EndpointName=h.twin.outputs["EndpointName"])[
        "EndpointConfigName"
    ]
    return int(config.rsplit("-v", 1)[1].split("-")[0])


def package(h, version: int) -> dict:
    arn = next(
        p["ModelPackageArn"] for p in h.model_packages() if p["ModelPackageVersion"] == version
    )
    return h.client("sagemaker").describe_model_package(ModelPackageName=arn)


def rollout(runs: list, h) -> object:
    """The DeployPipeline run that acted (a package update also starts runs that skip)."""
    (acting,) = [
        v
        for v in runs
        if v.workflow == "DeployPipeline" and "CreateModel" in h.states_entered(v.arn)
    ]
    return acting


def deploy_under_traffic(h, register) -> tuple[list, object]:
    traffic = TrafficClient(h.twin, sample_rows(h.dataset(), 1)[0].encode()).start()
    before = set(h.watcher.executions)
    register()
    runs = h.settle(before)  # a rejection starts a RollbackPipeline run a moment later
    return runs, traffic.stop()


def test_shadow_promotes_a_good_candidate_and_discards_a_faulty_one(make_stack, tmp_path):
    h = make_stack(**SHADOW)
    h.run_upload("first.csv", h.dataset())
    assert live_version(h) == 1
    v1_arn = package(h, 1)["ModelPackageArn"]

    # A good candidate: the same model, served again.
    runs, traffic = deploy_under_traffic(h, lambda: register_version(h.twin, v1_arn))
    deploy = rollout(runs, h)
    h.assert_status(deploy, "SUCCEEDED")
    states = h.states_entered(deploy.arn)
    assert states[-1] == "Deployed", h.why(deploy)
    assert {"StartShadowTest", "ShadowWindow", "CompareShadow", "ArmLatencyAlarm"} <= set(states)
    assert live_version(h) == 2
    meta = package(h, 2)["CustomerMetadataProperties"]
    assert meta["shadow_decision"] == "PROMOTE"
    assert float(meta["shadow_agreement"]) == 1.0
    assert int(meta["shadow_requests"]) >= 20
    assert traffic.errors == 0

    # A faulty candidate: half of its answers fail; production never shows it.
    faulty = publish_faulty_code(h.twin, "faulty", tmp_path)
    runs, traffic = deploy_under_traffic(h, lambda: register_version(h.twin, v1_arn, faulty))
    deploy = rollout(runs, h)
    h.assert_status(deploy, "SUCCEEDED")
    assert h.states_entered(deploy.arn)[-1] == "ShadowDiscarded", h.why(deploy)
    assert live_version(h) == 2
    v3 = package(h, 3)
    assert v3["ModelApprovalStatus"] == "Rejected"
    assert "shadow test discarded it" in v3["ApprovalDescription"]
    assert v3["CustomerMetadataProperties"]["shadow_decision"] == "DISCARD"
    assert float(v3["CustomerMetadataProperties"]["shadow_error_rate"]) > 0.2
    assert traffic.errors == 0, "production answers came from the live variant only"
    (message,) = [
        m["body"] for m in h.notifications(runs) if m["body"]["outcome"] == "SHADOW_DISCARDED"
    ]
    assert message["shadow_result"]["decision"] == "DISCARD"
    assert "error rate" in message["shadow_result"]["reason"]
    assert len(h.twin.cloud.hosting.servers(h.twin.outputs["EndpointName"])) == 1
