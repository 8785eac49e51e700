"""`mlops local demo --scenario drift`: shifted traffic is noticed and retrains the model.

v1 is trained and deployed as in the main demo, on a stack that captures every request and
checks drift on a schedule. A client first sends rows of the dataset as they are: the next
scheduled check finds no drift. It then sends the same rows with three features scaled by 1.6
(a unit change upstream): the next check finds drift, puts `Model Drift Detected` on the stack
bus, and the rule retrains on the latest dataset; the retrained version is deployed. With
ImprovementMargin 0 a model retrained on the same data (an equal score) is registered: the
demo shows the path from drift to a new version serving, not a better model.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

from mlops.control.timeline import Watcher
from mlops.demo.loop import DATASET_KEY, summarize, workflows
from mlops.twin.cloud import TIME_SCALE, describe_clock
from mlops.twin.stack import TwinStack, start_stack

#: Features the shifted traffic scales, and by how much.
SHIFTED = {"mean_radius": 1.6, "mean_perimeter": 1.6, "mean_area": 1.6}
PARAMETERS = {
    "DeploymentStrategy": "ALL_AT_ONCE",
    "DataCapturePercent": "100",
    "DriftMinimumRows": "100",
    "ImprovementMargin": "0",
    # every 15 minutes of the twin's clock: 9 real seconds
    "DriftCheckSchedule": "rate(15 minutes)",
}
DECIDED = ("NO_DRIFT", "DRIFT_DETECTED")


def send_rows(
    twin: TwinStack, dataset: bytes, scale: dict[str, float], count: int, per_request: int = 5
) -> None:
    """The first `count` rows of the dataset, features in `scale` multiplied, as CSV requests
    of `per_request` rows; then waits for the data capture to reach S3 (about every second)."""
    reader = csv.reader(io.StringIO(dataset.decode()))
    features = next(reader)[:-1]  # the label is the last column
    rows = [row for _, row in zip(range(count), reader, strict=False)]
    runtime = twin.client("sagemaker-runtime")
    for start in range(0, len(rows), per_request):
        lines = []
        for row in rows[start : start + per_request]:
            named = zip(features, row, strict=False)
            lines.append(",".join(repr(float(v) * scale.get(n, 1.0)) for n, v in named))
        runtime.invoke_endpoint(
            EndpointName=twin.outputs["EndpointName"],
            ContentType="text/csv",
            Body="\n".join(lines).encode(),
        )
    time.sleep(2.5)


def _verdict(view: Any) -> dict[str, Any]:
    return json.loads(view.output or "{}").get("verdict", {}).get("Payload", {})


def _next_decided_check(watcher: Watcher, after: datetime, timeout: float) -> dict[str, Any]:
    """The verdict of the first scheduled check started after `after` that decided."""
    found: dict[str, Any] = {}

    def decided(w: Watcher) -> bool:
        for view in w.finished("DriftCheck"):
            if view.started > after and _verdict(view).get("outcome") in DECIDED:
                found.update(_verdict(view))
                return True
        return False

    if not watcher.wait(decided, timeout):
        raise TimeoutError("no drift check decided in time")
    return found


def run_drift(timeout: float = 300.0) -> int:
    print("mlops twin: drift scenario (every request captured, a drift check every 9 s)")
    print(f"  clock: {describe_clock(TIME_SCALE)}")
    print("  parameters: " + " ".join(f"{k}={v}" for k, v in PARAMETERS.items()))
    twin = start_stack(time_scale=TIME_SCALE, **PARAMETERS)
    try:
        dataset = (twin.root / "ml" / "data" / DATASET_KEY).read_bytes()
        flows = workflows(twin) | {"DriftCheck": twin.outputs["DriftCheckArn"]}
        watcher = Watcher(twin.client("stepfunctions"), flows)
        print("1. training and deploying v1 from the shipped dataset ...")
        twin.upload_dataset(DATASET_KEY, dataset)
        watcher.wait(lambda w: bool(w.finished("DeployPipeline")), timeout)
        print("2. in-distribution traffic: 300 rows of the dataset, as they are ...")
        sent = datetime.now(UTC)
        send_rows(twin, dataset, {}, 300)
        quiet = _next_decided_check(watcher, sent, timeout)
        print(f"   drift check: {quiet['outcome']}: {quiet['summary']}")
        shifted = ", ".join(f"{n} x{f}" for n, f in SHIFTED.items())
        print(f"3. shifted traffic: the same rows with {shifted} ...")
        sent = datetime.now(UTC)
        send_rows(twin, dataset, SHIFTED, 300)
        drift = _next_decided_check(watcher, sent, timeout)
        print(f"   drift check: {drift['outcome']}: {drift['summary']}")
        print("4. the DriftDetected rule retrains on the latest dataset ...")
        detected = datetime.now(UTC)
        watcher.wait(
            lambda w: (
                any(v.started > detected for v in w.finished("DeployPipeline"))
                or any(
                    v.started > detected and v.status != "SUCCEEDED"
                    for v in w.finished("TrainingPipeline")
                )
            ),  # fmt: skip
            timeout,
        )
        time.sleep(1.0)
        watcher.poll()
        print()
        code = summarize(twin, watcher, dataset)
        sagemaker = twin.client("sagemaker")
        endpoint = sagemaker.describe_endpoint(EndpointName=twin.outputs["EndpointName"])
        newest = max(
            sagemaker.list_model_packages(
                ModelPackageGroupName=twin.outputs["ModelPackageGroupName"]
            )["ModelPackageSummaryList"],
            key=lambda p: p["ModelPackageVersion"],
        )
        package = sagemaker.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
        lineage = package.get("CustomerMetadataProperties", {})
        print(
            f"v{package['ModelPackageVersion']} lineage: trigger={lineage.get('trigger')} "
            f"retrain_reason={lineage.get('retrain_reason', '')[:200]}"
        )
        serving = f"-v{package['ModelPackageVersion']}-" in endpoint["EndpointConfigName"]
        ok = quiet["outcome"] == "NO_DRIFT" and drift["outcome"] == "DRIFT_DETECTED" and serving
        return code if ok else 1
    finally:
        twin.close()
