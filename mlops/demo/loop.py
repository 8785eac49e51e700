"""`mlops local demo`: the whole loop, offline and for real, with live progress and a summary."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

from mlops.control.timeline import Watcher
from mlops.demo.datasets import DATASETS, DemoDataset
from mlops.twin.cloud import TIME_SCALE, describe_clock
from mlops.twin.stack import TwinStack, start_stack

DATASET_KEY = DATASETS["breast_cancer"].filename  # the canary-rollback scenario's data


def workflows(twin: TwinStack) -> dict[str, str]:
    return {
        "TrainingPipeline": twin.outputs["TrainingPipelineArn"],
        "DeployPipeline": twin.outputs["DeployPipelineArn"],
        "RollbackPipeline": twin.outputs["RollbackPipelineArn"],
    }


def loop_settled(watcher: Watcher) -> bool:
    """Training ended without a deployment to follow, or a deployment ended."""
    if watcher.running():
        return False
    trained = watcher.finished("TrainingPipeline")
    return bool(watcher.finished("DeployPipeline")) or any(v.status != "SUCCEEDED" for v in trained)


def run_demo(timeout: float = 300.0, dataset: str = "breast_cancer") -> int:
    chosen = DATASETS[dataset]
    started = time.monotonic()
    print("mlops twin: starting the local cloud and provisioning template.yaml ...")
    twin = start_stack(time_scale=TIME_SCALE, **chosen.parameters)
    try:
        print(
            f"  stack up in {time.monotonic() - started:.1f}s at {twin.cloud.url} "
            f"({len(twin.stack.physical_ids)} resources, "
            f"{len(twin.stack.functions)} functions)"
        )
        print(f"  clock: {describe_clock(TIME_SCALE)}")
        print("  parameters: " + " ".join(f"{k}={v}" for k, v in chosen.parameters.items()))
        data = (twin.root / "ml" / "data" / chosen.filename).read_bytes()
        print(
            f"uploading s3://{twin.outputs['DataBucketName']}/"
            f"{twin.outputs['DataPrefix']}{chosen.filename} ({len(data)} bytes)"
        )
        uploaded = datetime.now(UTC)
        twin.upload_dataset(chosen.filename, data)
        watcher = Watcher(twin.client("stepfunctions"), workflows(twin))
        watcher.wait(lambda w: bool(w.executions) and loop_settled(w), timeout)
        print()
        return summarize(twin, watcher, data, chosen, uploaded)
    finally:
        twin.close()


def summarize(
    twin: TwinStack,
    watcher: Watcher,
    data: bytes,
    dataset: DemoDataset = DATASETS["breast_cancer"],
    uploaded: datetime | None = None,
) -> int:
    print("Executions")
    for view in watcher.executions.values():
        error = f"  {view.error}: {str(view.cause)[:200]}" if view.error else ""
        print(
            f"  {view.workflow:<17} {view.name[:8]}  {view.status:<9} {view.seconds:5.1f}s  "
            f"{view.transitions} states{error}"
        )
    print("Model packages")
    for package in model_packages(twin):
        meta = package.get("CustomerMetadataProperties", {})
        print(
            f"  v{package['ModelPackageVersion']}  {package['ModelApprovalStatus']:<22} "
            f"{meta.get('candidate', '?')} ({meta.get('algorithm', '?')})  "
            f"{meta.get('metric', '?')}={meta.get('score', '?')}  "
            f"champion={meta.get('champion_score', 'none')}"
        )
    endpoint_name = twin.outputs["EndpointName"]
    try:
        endpoint = twin.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
    except twin.client("sagemaker").exceptions.ClientError:
        print(f"Endpoint {endpoint_name}: not created")
        return 1
    variants = ", ".join(
        f"{v['VariantName']} weight {v.get('CurrentWeight')}"
        for v in endpoint["ProductionVariants"]
    )
    print(
        f"Endpoint {endpoint_name}: {endpoint['EndpointStatus']} on "
        f"{endpoint['EndpointConfigName']} ({variants})"
    )
    deployed = [v for v in watcher.finished("DeployPipeline") if v.status == "SUCCEEDED"]
    if uploaded is not None and deployed:
        stopped = max(v.stopped or datetime.now(UTC) for v in deployed)
        serving = (stopped - uploaded).total_seconds()
        print(f"Upload to serving: {serving:.1f}s")
    rows, labels = sample_rows(data, 3, dataset.label)
    response = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint_name,
        ContentType="text/csv",
        Accept="application/json",
        Body=rows.encode(),
    )
    predictions = json.loads(response["Body"].read())["predictions"]
    print(f"Prediction from {response['InvokedProductionVariant']} for 3 rows of the dataset:")
    for prediction, actual in zip(predictions, labels, strict=True):
        print(f"  predicted {dataset.describe(prediction)}, actual {actual}")
    return 0 if endpoint["EndpointStatus"] == "InService" else 1


def model_packages(twin: TwinStack) -> list[dict[str, Any]]:
    sagemaker = twin.client("sagemaker")
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=twin.outputs["ModelPackageGroupName"]
    )["ModelPackageSummaryList"]
    return sorted(
        (
            sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"])
            for s in summaries
        ),
        key=lambda p: p["ModelPackageVersion"],
    )


def sample_rows(dataset: bytes, count: int, label: str = "malignant") -> tuple[str, list[str]]:
    reader = csv.DictReader(io.StringIO(dataset.decode()))
    out, labels = io.StringIO(), []
    writer = csv.writer(out, lineterminator="\n")
    for row, _ in zip(reader, range(count), strict=False):
        labels.append(row.pop(label))
        writer.writerow(row.values())
    return out.getvalue(), labels
