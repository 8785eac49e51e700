"""Parsing the events that start workflows; anything unexpected is EventMalformed."""

import copy
from typing import Any

import pytest
from mlops_common.domain.events import (
    parse_model_package_change,
    parse_s3_upload,
    parse_training_start,
)
from mlops_common.errors import EventMalformed
from mlops_common.models import DatasetLocation, DatasetUpload, RetrainRequest

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/3"


def s3_event(**object_fields: Any) -> dict[str, Any]:
    obj = {
        "key": "datasets/breast_cancer.csv",
        "size": 120384,
        "etag": "b21b84d653bb07b05b1e6b33684dc11b",
        "sequencer": "0C0F6F405D6ED209E1",
    }
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::mlops-data"],
        "detail": {
            "version": "0",
            "bucket": {"name": "mlops-data"},
            "object": obj | object_fields,
            "request-id": "D82B88E5F771F645",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def package_event(**detail_fields: Any) -> dict[str, Any]:
    detail = {
        "ModelPackageGroupName": "mlops-models",
        "ModelPackageVersion": 3,
        "ModelPackageArn": ARN,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
        "LastModifiedTime": 1767225600000,
    }
    return {
        "version": "0",
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [ARN],
        "detail": detail | detail_fields,
    }


# ---- S3 Object Created -----------------------------------------------------------------------


def test_object_created_yields_the_object_version_who_uploaded_it_and_its_place_in_order() -> None:
    event = s3_event(**{"version-id": "096fKKXTRTtl3on89fVO.nfljtsv6qko"})
    assert parse_s3_upload(event) == DatasetUpload(
        bucket="mlops-data",
        key="datasets/breast_cancer.csv",
        version_id="096fKKXTRTtl3on89fVO.nfljtsv6qko",
        etag="b21b84d653bb07b05b1e6b33684dc11b",
        size=120384,
        requester="123456789012",
        sequencer="0C0F6F405D6ED209E1",
        event_time="2026-01-01T00:00:00Z",
        event_id="17793124-05d4-b198-2fde-7ededc63b103",
    )


def test_version_id_null_of_an_unversioned_bucket_is_treated_as_no_version() -> None:
    assert parse_s3_upload(s3_event(**{"version-id": "null"})).version_id is None


def test_absent_version_id_is_no_version() -> None:
    assert parse_s3_upload(s3_event()).version_id is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("source", "aws.sagemaker", "unexpected aws.sagemaker / Object Created event"),
        ("detail-type", "Object Deleted", "unexpected aws.s3 / Object Deleted event"),
    ],
)
def test_other_source_or_detail_type_is_malformed(field: str, value: str, expected: str) -> None:
    event = s3_event() | {field: value}
    with pytest.raises(EventMalformed) as excinfo:
        parse_s3_upload(event)
    assert str(excinfo.value) == expected


def test_event_without_object_key_is_malformed_naming_the_field() -> None:
    event = s3_event()
    del event["detail"]["object"]["key"]
    with pytest.raises(EventMalformed) as excinfo:
        parse_s3_upload(event)
    assert str(excinfo.value).startswith("not an S3 Object Created event: detail.object.key:")


@pytest.mark.parametrize(
    "event",
    [{}, {"detail": "not a dict"}, {"source": "aws.s3"}],
    ids=["empty", "detail-string", "source-only"],
)
def test_shapeless_event_is_malformed(event: dict[str, Any]) -> None:
    with pytest.raises(EventMalformed, match="^not an S3 Object Created event: "):
        parse_s3_upload(event)


# ---- TrainingPipeline start input (design decision D1) ------------------------------------------


def test_an_upload_event_starts_a_run_for_that_object() -> None:
    start = parse_training_start(s3_event(**{"version-id": "v1"}))
    assert isinstance(start, DatasetUpload) and start.version_id == "v1"


def test_a_retrain_input_is_the_request_under_its_key() -> None:
    request = {"dataset": {"bucket": "mlops-data", "key": "datasets/a.csv", "version_id": "v1"},
               "reason": "drift", "requested_by": "drift-rule", "request_id": "r-1"}  # fmt: skip
    start = parse_training_start({"retrain": request})
    assert start == RetrainRequest(
        dataset=DatasetLocation(bucket="mlops-data", key="datasets/a.csv", version_id="v1"),
        reason="drift",
        requested_by="drift-rule",
        force=False,
        request_id="r-1",
        code_version=None,
    )


def test_a_retrain_input_with_anything_beside_the_request_is_malformed() -> None:
    request = {"dataset": "latest", "reason": "r", "requested_by": "a", "request_id": "r-1"}
    with pytest.raises(EventMalformed, match=r"only the key 'retrain', got \['retrain', 'x'\]"):
        parse_training_start({"retrain": request, "x": 1})


def test_an_input_of_no_known_shape_is_malformed_as_an_upload() -> None:
    with pytest.raises(EventMalformed, match="^not an S3 Object Created event: "):
        parse_training_start({"detail": {"bucket": "nope"}})


# ---- SageMaker Model Package State Change ---------------------------------------------------


def test_model_package_change_yields_typed_detail() -> None:
    parsed = parse_model_package_change(package_event())
    assert parsed.source == "aws.sagemaker"
    assert parsed.detail.ModelPackageGroupName == "mlops-models"
    assert parsed.detail.ModelPackageVersion == 3
    assert parsed.detail.ModelPackageArn == ARN
    assert parsed.detail.ModelApprovalStatus == "Approved"


def test_model_package_change_from_other_source_is_malformed() -> None:
    with pytest.raises(EventMalformed, match="^unexpected source aws.s3$"):
        parse_model_package_change(package_event() | {"source": "aws.s3"})


def test_unknown_approval_status_is_malformed_naming_the_field() -> None:
    with pytest.raises(EventMalformed) as excinfo:
        parse_model_package_change(package_event(ModelApprovalStatus="Maybe"))
    assert str(excinfo.value).startswith(
        "not a Model Package State Change: detail.ModelApprovalStatus:"
    )


def test_model_package_change_without_version_is_malformed() -> None:
    event = copy.deepcopy(package_event())
    del event["detail"]["ModelPackageVersion"]
    with pytest.raises(EventMalformed, match="detail.ModelPackageVersion: Field required"):
        parse_model_package_change(event)
