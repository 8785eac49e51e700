"""Datasets as teams write them, in the twin: a folder of parts completed by a `_SUCCESS`
marker is one run on every part, trained, registered and deployed; labels written `True`/`False`
(as pandas writes booleans) train a binary model whose positive class is `True`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from mlops.demo.loop import sample_rows
from mlops.twin.stack import start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

FOLDER = "daily/2026-03-02/"


@pytest.fixture(scope="module")
def stack(harness_of: Any) -> Iterator[Any]:
    twin = start_stack()
    try:
        yield harness_of(twin)
    finally:
        twin.close()


def rows_of(data: bytes) -> tuple[str, list[str]]:
    header, *rows = data.decode().splitlines(keepends=True)
    return header, rows


def test_a_folder_of_parts_with_its_marker_is_one_run_trained_registered_and_deployed(
    stack,
) -> None:
    header, rows = rows_of(stack.dataset())
    parts = [rows[i::3] for i in range(3)]  # every part holds both classes
    before = set(stack.watcher.executions)
    # Given the parts, and the files a data job writes beside them
    for n, part in enumerate(parts):
        stack.twin.upload_dataset(f"{FOLDER}part-{n:05d}.csv", (header + "".join(part)).encode())
    stack.twin.upload_dataset(f"{FOLDER}.part-00000.csv.crc", b"crc")
    # When the marker completes the folder
    stack.twin.upload_dataset(f"{FOLDER}_SUCCESS", b"")
    runs = stack.settle(before, timeout=300)
    # Then one training run, on the marker's version and every part
    (training,) = [v for v in runs if v.workflow == "TrainingPipeline"]
    assert stack.states_entered(training.arn)[-1] == "Registered", stack.why(training)
    (deploy,) = [v for v in runs if v.workflow == "DeployPipeline"]
    assert stack.states_entered(deploy.arn)[-1] == "Deployed", stack.why(deploy)
    (package,) = stack.model_packages()
    lineage = stack.client("sagemaker").describe_model_package(
        ModelPackageName=package["ModelPackageArn"]
    )["CustomerMetadataProperties"]
    prefix = stack.twin.outputs["DataPrefix"]
    assert lineage["dataset_uri"].endswith(f"/{prefix}{FOLDER}_SUCCESS")
    assert (lineage["dataset_rows"], lineage["dataset_parts"]) == (str(len(rows)), "3")
    manifest_bucket, manifest_key = lineage["dataset_parts_manifest"][5:].split("/", 1)
    s3 = stack.client("s3")
    manifest = json.loads(s3.get_object(Bucket=manifest_bucket, Key=manifest_key)["Body"].read())
    assert [p["key"].rsplit("/", 1)[1] for p in manifest["parts"]] == [
        "part-00000.csv", "part-00001.csv", "part-00002.csv"
    ]  # fmt: skip
    assert all(p["version_id"] for p in manifest["parts"])
    # and every job read the run's data folder, which holds the three parts
    folder = lineage["dataset_snapshot"]
    assert folder.endswith(f"/runs/{training.name}/data/")
    bucket, key = folder[5:].split("/", 1)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed) == [
        "part-00000.csv", "part-00001.csv", "part-00002.csv"
    ]  # fmt: skip


def test_labels_written_true_and_false_train_a_binary_model(stack) -> None:
    # Given the dataset with its labels as pandas writes booleans
    reader = csv.reader(io.StringIO(stack.dataset().decode()))
    header = next(reader)
    at = header.index("malignant")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in reader:
        row[at] = "True" if row[at] == "1" else "False"
        writer.writerow(row)
    data = out.getvalue().encode()
    # When it is uploaded
    runs = stack.run_upload("booleans.csv", data, timeout=300)
    # Then it passes the contract and trains; its version is registered unless v1 is as good
    (training,) = [v for v in runs if v.workflow == "TrainingPipeline"]
    entered = stack.states_entered(training.arn)
    assert "TrainCandidates" in entered and entered[-1] in ("Registered", "NotBetter"), stack.why(
        training
    )
    # and the endpoint answers 1 for True (the positive class) on the rows it learnt from
    rows, labels = sample_rows(data, 20, "malignant")
    response = stack.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=stack.twin.outputs["EndpointName"],
        ContentType="text/csv",
        Accept="application/json",
        Body=rows.encode(),
    )
    predictions = json.loads(response["Body"].read())["predictions"]
    truth = [1 if label == "True" else 0 for label in labels]
    right = sum(p["label"] == t for p, t in zip(predictions, truth, strict=True))
    assert right >= 18
