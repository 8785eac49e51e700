"""Datasets in parts (domain.dataset_version through start_training_run, against moto): a folder
completed by its `_SUCCESS` marker is one dataset version, all parts checked and snapshotted
together; a part on its own starts nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_common.domain.lineage import run_lineage
from mlops_common.errors import DatasetInvalid
from test_domain_training_run import start

FOLDER = "datasets/daily/2026-01-01/"
HEADER = "mean_radius,mean_texture,malignant\n"


def part(first: int, rows: int, header: str = HEADER) -> bytes:
    return (
        header + "".join(f"{i}.5,{i * 2},{i % 2}\n" for i in range(first, first + rows))
    ).encode()


def write_parts(world: Any, parts: dict[str, bytes]) -> dict[str, Any]:
    """Writes the parts, then the marker; returns the marker's event and versions."""
    versions = {name: world.put_object("mlops-data", FOLDER + name, body)["version_id"]
                for name, body in parts.items()}  # fmt: skip
    marker = world.put_object("mlops-data", FOLDER + "_SUCCESS", b"")
    event = world.s3_event(FOLDER + "_SUCCESS", marker["version_id"], marker["etag"], size=0)
    return {"event": event, "marker": marker, "versions": versions}


def test_a_folder_with_its_marker_is_one_run_on_every_part(world: Any, make_execution: Any) -> None:
    # Given three parts (and the files a job writes beside them) completed by the marker
    parts = {"part-00000.csv": part(0, 30), "part-00001.csv": part(30, 30),
             "part-00002": part(60, 20), "._part-00000.crc": b"x"}  # fmt: skip
    written = write_parts(world, parts)
    world.put_object("mlops-data", FOLDER + "nested/other.csv", part(0, 60))
    # When the marker's event starts a run
    result = start(world, written["event"], make_execution("run-p"))
    # Then one run trains on all parts, the marker's version being the dataset version
    run = result.run
    assert result.action == "TRAIN" and run is not None
    dataset = run.dataset
    assert (dataset.key, dataset.version_id) == (
        FOLDER + "_SUCCESS",
        written["marker"]["version_id"],
    )
    assert (dataset.rows, dataset.features, dataset.parts) == (80, 2, 3)
    assert (
        dataset.snapshot_uri == dataset.snapshot_prefix == "s3://mlops-artifacts/runs/run-p/data/"
    )
    assert world.keys("mlops-artifacts", "runs/run-p/data/") == [
        "runs/run-p/data/part-00000.csv",
        "runs/run-p/data/part-00001.csv",
        "runs/run-p/data/part-00002.csv",  # the training scripts read *.csv
    ]
    # and the part list with versions is in the run's folder, the lineage and the ledger
    manifest = json.loads(world.read(dataset.parts_manifest_uri))
    assert {p["key"]: p["version_id"] for p in manifest["parts"]} == {
        FOLDER + name: version
        for name, version in written["versions"].items()
        if not name.startswith(".")
    }
    lineage = run_lineage(run)
    assert (lineage["dataset_parts"], lineage["dataset_parts_manifest"]) == (
        "3",
        "s3://mlops-artifacts/runs/run-p/data_parts.json",
    )
    (entry,) = world.ledger().entries(run.business_key)
    assert [p["key"] for p in entry["parts"]] == [p["key"] for p in manifest["parts"]]


def test_parts_with_different_headers_are_refused_naming_the_part(
    world: Any, make_execution: Any
) -> None:
    other = "mean_radius,worst_area,malignant\n"
    written = write_parts(world, {"part-0.csv": part(0, 40), "part-1.csv": part(40, 40, other)})
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, written["event"], make_execution("r"))
    assert str(excinfo.value).endswith(
        "part part-1.csv: its header differs from part part-0.csv's: missing ['mean_texture'], "
        "extra ['worst_area']"
    )


def test_the_rules_on_rows_and_classes_apply_to_all_parts_together(
    world: Any, make_execution: Any
) -> None:
    # 30 rows each: neither part has the contract's 50 rows, together they do
    zeros = HEADER + "".join(f"{i},1,0\n" for i in range(30))
    ones = HEADER + "".join(f"{i},1,1\n" for i in range(30))
    written = write_parts(world, {"a.csv": zeros.encode(), "b.csv": ones.encode()})
    run = start(world, written["event"], make_execution("r")).run
    assert run is not None and run.dataset.rows == 60


def test_the_size_limit_applies_to_the_sum_of_the_parts(world: Any, make_execution: Any) -> None:
    written = write_parts(world, {"a.csv": part(0, 40), "b.csv": part(40, 40)})
    limit = len(part(0, 40)) + 10
    with pytest.raises(DatasetInvalid, match=f"bytes in 2 parts; the limit is {limit}$"):
        start(world, written["event"], make_execution("r"), max_dataset_bytes=limit)


def test_a_bad_row_in_a_part_is_named_with_the_part(world: Any, make_execution: Any) -> None:
    bad = part(40, 40).replace(b"41.5,", b"x,", 1)
    written = write_parts(world, {"a.csv": part(0, 40), "b.csv": bad})
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, written["event"], make_execution("r"))
    assert str(excinfo.value).endswith(
        "part b.csv: line 3: feature 'mean_radius' is not numeric ('x')"
    )


def test_a_marker_without_parts_is_refused(world: Any, make_execution: Any) -> None:
    written = write_parts(world, {})
    with pytest.raises(DatasetInvalid, match=f"the folder s3://mlops-data/{FOLDER} has no parts"):
        start(world, written["event"], make_execution("r"))


def test_a_part_reaching_a_run_by_a_replay_is_refused_by_name(
    world: Any, make_execution: Any
) -> None:
    obj = world.put_object("mlops-data", FOLDER + "part-0.csv", part(0, 60))
    event = world.s3_event(FOLDER + "part-0.csv", obj["version_id"], obj["etag"])
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, event, make_execution("r"))
    assert str(excinfo.value) == (
        f"s3://mlops-data/{FOLDER}part-0.csv is a part of the dataset in s3://mlops-data/{FOLDER}: "
        "parts start no run; the folder's _SUCCESS marker does"
    )
    assert world.table.scan()["Count"] == 0  # nothing claimed


def test_a_retrain_of_the_latest_dataset_finds_the_folder_of_the_newest_part(
    world: Any, make_execution: Any
) -> None:
    write_parts(world, {"part-0.csv": part(0, 60)})
    world.put_object("mlops-data", FOLDER + "part-1.csv", part(60, 20))  # the newest object
    request = {"retrain": {"dataset": "latest", "reason": "r", "requested_by": "ops",
                           "request_id": "req-1"}}  # fmt: skip
    run = start(world, request, make_execution("r")).run
    assert run is not None and run.dataset.key == FOLDER + "_SUCCESS" and run.dataset.parts == 2
