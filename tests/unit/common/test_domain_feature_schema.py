"""Schema changes decided before any job runs (domain.feature_schema through start_training_run,
against moto): a dataset whose features differ from the champion's recorded feature schema is
refused naming the difference, unless the operator declared the change; then the run trains
without a champion and its lineage and gate say why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_common.domain.feature_schema import differ, schema_key, to_entry
from mlops_common.domain.lineage import run_lineage
from mlops_common.errors import DatasetInvalid, ModelProvenanceInvalid
from mlops_common.models import Champion
from test_domain_training_run import start, upload

FEATURES = ["mean_radius", "mean_texture", "mean_area"]
SCHEMA_URI = "s3://mlops-artifacts/runs/old/evaluation/lr/feature_schema.json"


def dataset(header: list[str]) -> bytes:
    lines = [",".join([*header, "malignant"])]
    lines += [",".join(str(i + j) for j in range(len(header))) + f",{i % 2}" for i in range(60)]
    return ("\n".join(lines) + "\n").encode()


def champion_with_schema(world: Any, features: list[str] = FEATURES) -> str:
    schema = {"features": [{"name": n, "type": "float64"} for n in features], "label": "malignant"}
    digest = world.put_uri(SCHEMA_URI, json.dumps(schema).encode())
    return world.create_package(
        "Approved", lineage={"feature_schema": SCHEMA_URI, "feature_schema_sha256": digest}
    )


def declare(world: Any, reason: str, version: int | None) -> None:
    champion = None
    if version is not None:
        champion = Champion(model_package_arn="arn", version=version, model_data_url="s3://m/x")
    entry = to_entry(reason, "alice", "2026-01-01T00:00:00+00:00", champion)
    world.ledger().append(schema_key(world.group), entry, tag="t1")


def test_a_dataset_with_the_champions_features_compares_with_the_champion(
    world: Any, make_execution: Any
) -> None:
    arn = champion_with_schema(world)
    result = start(world, upload(world, body=dataset(FEATURES))["event"], make_execution("r"))
    assert result.run is not None and result.run.champion is not None
    assert result.run.champion.model_package_arn == arn
    assert result.run.schema_change is None


def test_missing_and_extra_columns_are_refused_before_anything_trains(
    world: Any, make_execution: Any
) -> None:
    champion_with_schema(world)
    obj = upload(world, body=dataset(["mean_radius", "mean_area", "worst_area"]))
    with pytest.raises(DatasetInvalid) as excinfo:
        start(world, obj["event"], make_execution("r"))
    assert str(excinfo.value) == (
        f"s3://mlops-data/datasets/breast_cancer.csv version {obj['version_id']}: the features "
        "differ from the feature schema of the champion (version 1): missing ['mean_texture'], "
        "extra ['worst_area']; if the change is intended, declare it with `mlops schema accept "
        "--reason R` and upload again"
    )
    assert world.keys("mlops-artifacts", "runs/r/") == []  # nothing snapshotted, nothing trains


def test_a_change_of_column_order_is_refused_naming_the_first_moved_column() -> None:
    assert differ(FEATURES, ["mean_texture", "mean_radius", "mean_area"]) == (
        "order changed (column 1 is 'mean_texture', the schema has 'mean_radius')"
    )


def test_a_declared_change_trains_without_the_champion_and_says_why(
    world: Any, make_execution: Any
) -> None:
    champion_with_schema(world)
    declare(world, "new sensor columns", version=1)
    obj = upload(world, body=dataset(["mean_radius", "worst_area"]))
    result = start(world, obj["event"], make_execution("r"))
    run = result.run
    assert result.action == "TRAIN" and run is not None
    assert run.champion is None  # judged on MinimumMetric alone
    assert run.schema_change is not None
    assert (run.schema_change.reason, run.schema_change.declared_by) == (
        "new sensor columns",
        "alice",
    )
    assert run_lineage(run)["schema_change"] == (
        "schema change from version 1 declared by alice: new sensor columns - "
        "judged on MinimumMetric alone"
    )


def test_a_declaration_against_an_older_champion_no_longer_holds(
    world: Any, make_execution: Any
) -> None:
    champion_with_schema(world)
    champion_with_schema(world, ["mean_radius", "worst_area"])  # version 2: the new schema
    declare(world, "used by version 2 already", version=1)
    obj = upload(world, body=dataset(["mean_radius", "other"]))
    with pytest.raises(DatasetInvalid, match=r"champion \(version 2\): missing \['worst_area'\]"):
        start(world, obj["event"], make_execution("r"))


def test_a_champion_schema_changed_after_registration_is_a_provenance_failure(
    world: Any, make_execution: Any
) -> None:
    champion_with_schema(world)
    world.put_uri(SCHEMA_URI, b'{"features": [], "label": "malignant"}')
    with pytest.raises(ModelProvenanceInvalid, match="changed since it was registered"):
        start(world, upload(world, body=dataset(FEATURES))["event"], make_execution("r"))


def test_registration_pins_the_feature_schema_beside_the_quality_report(world: Any) -> None:
    from test_domain_registration import QUALITY, register

    schema_uri = QUALITY.rsplit("/", 1)[0] + "/feature_schema.json"
    digest = world.put_uri(schema_uri, b'{"features": [], "label": "malignant"}')
    arn = register(world).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert (lineage["feature_schema"], lineage["feature_schema_sha256"]) == (schema_uri, digest)
