"""register_model against moto's Model Registry: status, metrics, lineage, serving container."""

import hashlib
import unicodedata
from functools import cache
from typing import Any

import botocore.session
import pytest
from mlops_common.domain.registration import register_model, registry_lock_key, registry_turn
from mlops_common.errors import ChampionChanged, ModelProvenanceInvalid, RegistryBusy
from mlops_common.models import (
    Candidate,
    CandidateResult,
    Champion,
    DatasetRef,
    Execution,
    Gate,
    RegisterModelOutput,
    RunContext,
    RunTrigger,
    SchemaChange,
    Selection,
)
from mlops_common.settings import RegisterModelSettings

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:train:run-a"
MODEL_DATA = "s3://mlops-artifacts/runs/run-a/models/mlops-0123456789-rf-train/output/model.tar.gz"
QUALITY = "s3://mlops-artifacts/runs/run-a/evaluation/rf/model_quality.json"
SNAPSHOT = "s3://mlops-artifacts/runs/run-a/data/bc.csv"
INFERENCE_IMAGE = (
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
)


def run_context(version_id: str | None = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") -> RunContext:
    return RunContext(
        run_id="run-a",
        execution_arn=EXECUTION_ARN,
        dataset=DatasetRef(
            bucket="mlops-data",
            key="datasets/bc.csv",
            version_id=version_id,
            etag="9b2cf535f27731c974343645a3985328",
            size=120384,
            rows=569,
            features=30,
            label="malignant",
            snapshot_uri=SNAPSHOT,
        ),
        candidates=[],
        trigger=RunTrigger(kind="upload", attempt=1, requested_by="123456789012"),
    )


def retrain_context(reason: str, code_version: str | None = None) -> RunContext:
    trigger = RunTrigger(kind="retrain", attempt=3, forced=True, request_id="req-7",
                         reason=reason, requested_by="alice@example.com")  # fmt: skip
    return run_context().model_copy(update={"trigger": trigger, "code_version": code_version})


def selection(champion_score: float | None = 0.95) -> Selection:
    best = CandidateResult(
        status="EVALUATED",
        candidate=Candidate(
            name="rf",
            algorithm="random_forest",
            hyperparameters={"n_estimators": 100, "max_depth": 6},
        ),
        training_job_name="mlops-0123456789-rf-train",
        model_data_url=MODEL_DATA,
        report_uri="s3://mlops-artifacts/runs/run-a/evaluation/rf/evaluation.json",
    )
    return Selection(
        best=best,
        metrics={"f1": 0.97},
        quality_report_uri=QUALITY,
        gate=Gate(
            metric="f1",
            score=0.97,
            floor=0.9,
            margin=0.005,
            champion_score=champion_score,
            to_beat=None if champion_score is None else champion_score + 0.005,
        ),
    )


def settings(auto_approve: bool) -> RegisterModelSettings:
    return RegisterModelSettings(
        artifacts_bucket="mlops-artifacts",
        code_version="v7",
        model_package_group="mlops-models",
        auto_approve=auto_approve,
        inference_image_uri=INFERENCE_IMAGE,
        ledger_table="mlops-ledger",
    )


MODEL_BYTES, CODE_BYTES = b"the trained model.tar.gz", b"the sourcedir.tar.gz of code v7"


def register(world: Any, auto_approve: bool = False, **kwargs: Any) -> RegisterModelOutput:
    """Registers the selection, its model and code in S3 as training left them."""
    world.put_uri(MODEL_DATA, MODEL_BYTES)
    run = kwargs.get("run", run_context())
    world.put_uri(settings(auto_approve).at(run.code_version).sourcedir_uri, CODE_BYTES)
    return register_model(
        run,
        kwargs.get("sel", selection()),
        settings(auto_approve),
        world.registry(),
        world.store(),
        world.ledger(),
        world.executions(),
    )


def register_as_stored(world: Any) -> RegisterModelOutput:
    """Registers with whatever model and code S3 holds now (nothing put first)."""
    return register_model(
        run_context(), selection(), settings(False), world.registry(), world.store(),
        world.ledger(), world.executions(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("auto_approve", "status"), [(True, "Approved"), (False, "PendingManualApproval")]
)
def test_package_is_created_in_the_group_with_the_approval_status(
    world: Any, auto_approve: bool, status: str
) -> None:
    result = register(world, auto_approve)
    package = world.sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    assert result == RegisterModelOutput(
        model_package_arn=package["ModelPackageArn"], version=1, approval_status=status
    )
    assert package["ModelPackageGroupName"] == "mlops-models"
    assert package["ModelApprovalStatus"] == status


def another_run(name: str) -> RunContext:
    return run_context().model_copy(
        update={"run_id": name, "execution_arn": EXECUTION_ARN.replace("run-a", name)}
    )


def test_versions_increase_within_the_group(world: Any) -> None:
    runs = [another_run(f"run-{n}") for n in range(3)]
    assert [register(world, run=run).version for run in runs] == [1, 2, 3]


def test_a_retried_registration_returns_the_package_its_run_created_and_registers_nothing(
    world: Any,
) -> None:
    # Given the run's first invocation created its package, then its worker died
    first = register(world)
    # When the task is retried, after the champion changed (an approval meanwhile)
    register(world, auto_approve=True, run=another_run("run-b"))
    again = register(world)
    # Then it answers with the package it created, and the group has no third version
    assert again == first
    listed = world.sagemaker.list_model_packages(ModelPackageGroupName="mlops-models")
    assert len(listed["ModelPackageSummaryList"]) == 2


def scored(champion: Champion | None) -> Selection:
    """The selection, its best candidate evaluated against `champion`."""
    chosen = selection()
    best = chosen.best.model_copy(update={"champion": champion})
    best = CandidateResult.model_validate(best.model_dump())  # as it arrives: champion set
    return chosen.model_copy(update={"best": best})


def champion_of(world: Any, result: RegisterModelOutput) -> Champion:
    package = world.sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    return Champion(model_package_arn=result.model_package_arn, version=result.version,
                    model_data_url=url)  # fmt: skip


def test_a_champion_changed_since_evaluation_registers_nothing_and_says_which(world: Any) -> None:
    # Given the candidates were evaluated with no champion, then another run registered an
    # approved version
    v1 = register(world, auto_approve=True, run=another_run("run-b"))
    # When this run registers
    with pytest.raises(ChampionChanged) as raised:
        register(world, auto_approve=True, sel=scored(None))
    # Then nothing is registered, and the error names both champions
    assert str(raised.value) == (
        f"the candidates were evaluated against no champion; the champion is now version 1 "
        f"({v1.model_package_arn})"
    )
    listed = world.sagemaker.list_model_packages(ModelPackageGroupName="mlops-models")
    assert len(listed["ModelPackageSummaryList"]) == 1


def test_a_candidate_evaluated_against_the_champion_of_now_is_registered(world: Any) -> None:
    v1 = register(world, auto_approve=True, run=another_run("run-b"))
    result = register(world, auto_approve=True, sel=scored(champion_of(world, v1)))
    assert result.version == 2


def declared(replaces_version: int | None) -> RunContext:
    """A run on a declared schema change: judged on the floor alone, against no champion."""
    change = SchemaChange(reason="radius sensor retired", declared_by="alice",
                          declared_at="2026-11-29T12:00:00Z",
                          replaces_version=replaces_version)  # fmt: skip
    return run_context().model_copy(update={"schema_change": change, "champion": None})


def test_a_declared_schema_change_registers_while_the_champion_it_replaces_still_is(
    world: Any,
) -> None:
    # Given v1 is the champion, and the declaration was made against it
    register(world, auto_approve=True, run=another_run("run-b"))
    # When the run on the new schema (evaluated against no champion) registers
    result = register(world, auto_approve=True, run=declared(1), sel=scored(None))
    # Then it is registered: the champion it replaces is still v1
    assert result.version == 2


def test_a_declared_schema_change_whose_champion_moved_on_registers_nothing(world: Any) -> None:
    # Given v1 was the champion the declaration replaced, and v2 has since been approved
    v1 = register(world, auto_approve=True, run=another_run("run-b"))
    register(world, auto_approve=True, run=another_run("run-c"), sel=scored(champion_of(world, v1)))
    # Then the run on the new schema registers nothing
    with pytest.raises(ChampionChanged, match="declared against version 1; the champion is now"):
        register(world, auto_approve=True, run=declared(1), sel=scored(None))


def test_registration_waits_for_the_registry_s_turn_and_releases_it(world: Any) -> None:
    ledger = world.ledger()
    key = registry_lock_key("mlops-models")
    holder = EXECUTION_ARN.replace("run-a", "run-busy")
    assert ledger.acquire_lock(key, holder, {}) is None  # a RUNNING run holds the turn
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the holder finishes while this run waits
        waits.append(seconds)
        ledger.release_lock(key, holder)

    execution = Execution(Name="run-a", Id=EXECUTION_ARN)
    with registry_turn("mlops-models", execution, ledger, world.executions(), sleep=sleep):
        assert ledger.read_lock(key)["holder"] == EXECUTION_ARN
    assert waits == [0.5]
    assert ledger.read_lock(key)["status"] == "RELEASED"


def test_a_turn_held_by_an_execution_that_ended_is_taken_over(world: Any) -> None:
    ledger = world.ledger()
    key = registry_lock_key("mlops-models")
    crashed = EXECUTION_ARN.replace("run-a", "run-crashed")
    ledger.acquire_lock(key, crashed, {})
    world.ended[crashed] = "FAILED"
    assert register(world).version == 1
    assert ledger.read_lock(key)["status"] == "RELEASED"


def test_no_turn_in_time_is_registry_busy_and_registers_nothing(world: Any) -> None:
    ledger = world.ledger()
    key = registry_lock_key("mlops-models")
    ledger.acquire_lock(key, EXECUTION_ARN.replace("run-a", "run-busy"), {})
    execution = Execution(Name="run-a", Id=EXECUTION_ARN)
    turn = registry_turn("mlops-models", execution, ledger, world.executions(), 0, lambda _: None)
    with pytest.raises(RegistryBusy, match="no turn on the model registry in 0 s: waiting"), turn:
        raise AssertionError("registered without the turn")  # pragma: no cover


def test_package_points_at_the_model_quality_report(world: Any) -> None:
    arn = register(world).model_package_arn
    package = world.sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelMetrics"] == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": QUALITY}}
    }


def test_package_carries_the_lineage_of_data_code_run_and_hyperparameters(world: Any) -> None:
    arn = register(world).model_package_arn
    package = world.sagemaker.describe_model_package(ModelPackageName=arn)
    lineage = package["CustomerMetadataProperties"]
    assert lineage == {
        "dataset_uri": "s3://mlops-data/datasets/bc.csv",
        "dataset_version": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        "dataset_rows": "569",
        "code_version": "v7",
        "execution_arn": EXECUTION_ARN,
        "training_job": "mlops-0123456789-rf-train",
        "candidate": "rf",
        "algorithm": "random_forest",
        "hyperparameters": "max_depth=6 n_estimators=100",
        "metric": "f1",
        "score": "0.970000",
        "champion_score": "0.950000",
        "dataset_etag": "9b2cf535f27731c974343645a3985328",
        "dataset_snapshot": SNAPSHOT,
        "trigger": "upload",
        "attempt": "1",
        "requested_by": "123456789012",
        "model_sha256": hashlib.sha256(MODEL_BYTES).hexdigest(),
        "code_sha256": hashlib.sha256(CODE_BYTES).hexdigest(),
        # beside the model-quality report: what drift checks compare live traffic with
        "drift_baseline": "s3://mlops-artifacts/runs/run-a/evaluation/rf/baseline.json",
    }
    assert lineage["hyperparameters"] == "max_depth=6 n_estimators=100"
    assert package["MetadataProperties"] == {"GeneratedBy": EXECUTION_ARN}


def test_the_sha256_recorded_is_of_the_artifact_streamed_from_s3(world: Any) -> None:
    # Larger than one 1 MiB chunk of the streaming hash, and not a multiple of it
    model = bytes(range(256)) * 9000
    world.put_uri(MODEL_DATA, model)
    world.put_uri(settings(False).sourcedir_uri, CODE_BYTES)
    output = register_as_stored(world)
    lineage = world.sagemaker.describe_model_package(ModelPackageName=output.model_package_arn)[
        "CustomerMetadataProperties"
    ]
    assert lineage["model_sha256"] == hashlib.sha256(model).hexdigest()


@pytest.mark.parametrize("missing", ["model", "code"])
def test_a_missing_model_or_code_registers_nothing_and_names_it(world: Any, missing: str) -> None:
    uris = {"model": MODEL_DATA, "code": settings(False).sourcedir_uri}
    for what, uri in uris.items():
        if what != missing:
            world.put_uri(uri, b"present")
    with pytest.raises(ModelProvenanceInvalid) as excinfo:
        register_as_stored(world)
    what = "model data" if missing == "model" else "code"
    assert str(excinfo.value) == (f"cannot record the {what}'s SHA-256: {uris[missing]} is missing")
    listed = world.sagemaker.list_model_packages(ModelPackageGroupName=world.group)
    assert listed["ModelPackageSummaryList"] == []


def test_unversioned_dataset_lineage_falls_back_to_etag_and_no_champion_leaves_no_score(
    world: Any,
) -> None:
    arn = register(
        world, run=run_context(version_id=None), sel=selection(champion_score=None)
    ).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert lineage["dataset_version"] == "etag:9b2cf535f27731c974343645a3985328"
    assert "champion_score" not in lineage  # the API rejects empty metadata values


def test_serving_container_uses_the_sklearn_script_mode_contract(world: Any) -> None:
    arn = register(world).model_package_arn
    spec = world.sagemaker.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]
    assert spec["Containers"] == [
        {
            "Image": INFERENCE_IMAGE,
            "ModelDataUrl": MODEL_DATA,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "s3://mlops-artifacts/code/v7/sourcedir.tar.gz",
            },
        }
    ]
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert spec["SupportedResponseMIMETypes"] == ["application/json"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large"]


# ---- API constraints moto does not enforce ----------------------------------------------------
# CustomerMetadataValue in the SageMaker API model: 1..256 chars of [\p{L}\p{Z}\p{N}_.:/=+\-@].
# Python's re has no \p{..}; the Unicode categories are checked with unicodedata instead.
METADATA_VALUE_PATTERN = r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}"


@cache
def metadata_value_shape() -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.shape_for("CustomerMetadataValue").metadata


def breaks_metadata_constraints(value: str) -> list[str]:
    """The characters of `value` outside the pattern, or a length problem."""
    shape = metadata_value_shape()
    if not shape["min"] <= len(value) <= shape["max"]:
        return [f"length {len(value)}"]
    return [c for c in value if unicodedata.category(c)[0] not in "LZN" and c not in "_.:/=+-@"]


def test_metadata_value_constraints_are_the_ones_this_module_checks() -> None:
    shape = metadata_value_shape()
    assert (shape["min"], shape["max"]) == (1, 256)
    assert shape["pattern"] == METADATA_VALUE_PATTERN


def test_lineage_values_other_than_hyperparameters_satisfy_the_api_constraints(world: Any) -> None:
    arn = register(world).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    lineage.pop("hyperparameters")
    assert {
        k: breaks_metadata_constraints(v)
        for k, v in lineage.items()
        if breaks_metadata_constraints(v)
    } == {}


def test_hyperparameters_lineage_value_satisfies_the_api_constraints(world: Any) -> None:
    arn = register(world).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert breaks_metadata_constraints(lineage["hyperparameters"]) == []


def test_a_retrain_records_why_who_and_which_attempt_within_the_api_constraints(
    world: Any,
) -> None:
    # Given a forced retrain whose reason holds characters metadata values do not allow
    reason = "Labels fixed (ticket #42), re-run, see https://example.com/t?id=42 ; ok"
    arn = register(world, run=retrain_context(reason)).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    # Then the trigger is in the lineage, the reason made to fit
    expected = {"trigger": "retrain", "attempt": "3", "requested_by": "alice@example.com",
                "retrain_request_id": "req-7"}  # fmt: skip
    assert {k: lineage[k] for k in expected} == expected
    assert lineage["retrain_reason"] == (
        "Labels fixed ticket 42 re-run see https://example.com/t id=42 ok"
    )
    lineage.pop("hyperparameters")  # checked on its own below
    assert {k: breaks_metadata_constraints(v) for k, v in lineage.items()} == dict.fromkeys(
        lineage, []
    )
    assert len(lineage) <= metadata_map_max()


def test_a_long_reason_is_cut_to_the_value_limit(world: Any) -> None:
    arn = register(world, run=retrain_context("x" * 1000)).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert lineage["retrain_reason"] == "x" * metadata_value_shape()["max"]


def test_a_run_with_its_own_code_version_is_served_by_that_code(world: Any) -> None:
    arn = register(world, run=retrain_context("new features", code_version="v8")).model_package_arn
    package = world.sagemaker.describe_model_package(ModelPackageName=arn)
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == (
        "s3://mlops-artifacts/code/v8/sourcedir.tar.gz"
    )
    assert package["CustomerMetadataProperties"]["code_version"] == "v8"


def metadata_map_max() -> int:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.shape_for("CustomerMetadataMap").metadata["max"]


def test_the_lineage_records_training_and_billable_time_and_the_spot_saving(world: Any) -> None:
    spot = selection()
    spot.best.training_seconds, spot.best.billable_seconds = 412, 12
    arn = register(world, sel=spot).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert (lineage["training_seconds"], lineage["billable_seconds"]) == ("412", "12")
    assert lineage["spot_saving_percent"] == "97.1"


def test_a_result_without_job_times_records_none(world: Any) -> None:
    arn = register(world).model_package_arn
    lineage = world.sagemaker.describe_model_package(ModelPackageName=arn)[
        "CustomerMetadataProperties"
    ]
    assert not {"training_seconds", "billable_seconds", "spot_saving_percent"} & set(lineage)
