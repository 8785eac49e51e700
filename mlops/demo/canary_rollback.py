"""`mlops local demo --scenario canary-rollback`: a faulty model meets a canary, live.

v1 is trained and deployed as in the main demo; then an operator registers v2, the same
model with a serving fault (every other prediction fails), while a client sends steady
traffic. Guardrails see the 5XX alarm during the canary bake and send all traffic back to
v1; the DeployPipeline rejects v2 and notifies.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mlops.control.timeline import Watcher
from mlops.demo.loop import DATASET_KEY, loop_settled, sample_rows, summarize, workflows
from mlops.demo.scenarios import TrafficClient, publish_faulty_code, register_version
from mlops.twin.cloud import TIME_SCALE, describe_clock
from mlops.twin.stack import start_stack, twin_parameters


def run_canary_rollback(timeout: float = 300.0) -> int:
    strategy = {"DeploymentStrategy": "CANARY", "CanarySizePercent": "25"}
    bake = float(twin_parameters("us-east-1", **strategy)["BakeSeconds"]) * TIME_SCALE
    print(f"mlops twin: canary rollback scenario (strategy CANARY 25 %, {bake:g} s bakes)")
    print(f"  clock: {describe_clock(TIME_SCALE)}")
    twin = start_stack(time_scale=TIME_SCALE, **strategy)
    try:
        dataset = (twin.root / "ml" / "data" / DATASET_KEY).read_bytes()
        watcher = Watcher(twin.client("stepfunctions"), workflows(twin))
        print("1. training and deploying v1 from the shipped dataset ...")
        twin.upload_dataset(DATASET_KEY, dataset)
        watcher.wait(lambda w: bool(w.executions) and loop_settled(w), timeout)
        sagemaker = twin.client("sagemaker")
        v1 = sagemaker.list_model_packages(
            ModelPackageGroupName=twin.outputs["ModelPackageGroupName"]
        )["ModelPackageSummaryList"][0]["ModelPackageArn"]
        faulty = publish_faulty_code(twin, "faulty", Path(tempfile.mkdtemp(prefix="faulty-")))
        print("2. steady traffic (20 requests/s) and an operator registers a faulty v2 ...")
        traffic = TrafficClient(twin, sample_rows(dataset, 1)[0].encode()).start()
        time.sleep(1.0)
        before = len(watcher.executions)
        register_version(twin, v1, faulty, note="v1 with a broken serving dependency")
        watcher.wait(
            lambda w: (
                len(w.executions) > before
                and not w.running()
                and bool([v for v in w.finished("DeployPipeline") if v.status != "SUCCEEDED"])
            ),
            timeout,
        )
        time.sleep(2.0)  # traffic after the rollback, all served by v1
        watcher.poll()
        report = traffic.stop()
        started = report.when(lambda status, _config: status == "Updating")
        back = next(
            (
                t
                for t, status, _c in report.timeline
                if started is not None and t > started and status == "InService"
            ),
            None,
        )
        print(
            f"\nTraffic: {report.sent} requests sent, {report.errors} errors seen by the "
            f"client, between {report.first_error or 0:.1f} s and {report.last_error or 0:.1f} s"
        )
        if started is not None and back is not None:
            print(
                f"Rollout began at {started:.1f} s; traffic back on v1 at {back:.1f} s "
                f"({back - started:.1f} s later)"
            )
        v2 = sagemaker.describe_model_package(ModelPackageName=v1.rsplit("/", 1)[0] + "/2")
        print(f"v2 is {v2['ModelApprovalStatus']}: {v2.get('ApprovalDescription', '')[:160]}")
        print()
        code = summarize(twin, watcher, dataset)
        rolled_back = (
            v2["ModelApprovalStatus"] == "Rejected"
            and "-v1-"
            in sagemaker.describe_endpoint(EndpointName=twin.outputs["EndpointName"])[
                "EndpointConfigName"
            ]
        )
        return code if rolled_back else 1
    finally:
        twin.close()
