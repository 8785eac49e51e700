"""Provenance of what is deployed (issue 8, item 3): each way a package can differ from what this
stack registered, what PlanDeployment does with it (nothing created, the version rejected) and
what PlanRollback does (passes it over, and RecordRollback rejects it).

The registry and S3 are moto; the world's packages are registered as RegisterModel does (model
data under runs/, code under code/, both SHA-256 recorded).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from mlops_common.domain.deployment import plan_deployment, resource_name
from mlops_common.domain.provenance import provenance_problems
from mlops_common.domain.rollback import plan_rollback, record_rollback
from mlops_common.errors import ModelProvenanceInvalid
from mlops_common.models import Execution
from mlops_common.settings import DeploySettings, ProvenanceSettings, RollbackSettings

ENDPOINT = "mlops-endpoint"
ROLE = "arn:aws:iam::123456789012:role/mlops-sagemaker"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PROVENANCE = ProvenanceSettings(artifacts_bucket="mlops-artifacts", inference_image_uri=IMAGE)
COMMON = {"endpoint_name": ENDPOINT, "model_package_group": "mlops-models",
          "sagemaker_role_arn": ROLE, "error_alarm_name": "mlops-endpoint-5xx",
          **PROVENANCE.model_dump()}  # fmt: skip
DEPLOY = DeploySettings(latency_alarm_name="mlops-new-fleet-latency", **COMMON)
ROLLBACK = RollbackSettings(ledger_table="mlops-ledger", **COMMON)
OPERATOR = {"operator": {"requested_by": "alice", "reason": "complaints"}}


def execution(name: str) -> Execution:
    return Execution(Name=name, Id=f"arn:aws:states:us-east-1:123456789012:execution:x:{name}")


def describe(world: Any, arn: str) -> dict[str, Any]:
    return world.sagemaker.describe_model_package(ModelPackageName=arn)


def problems(world: Any, arn: str) -> list[str]:
    return provenance_problems(describe(world, arn), PROVENANCE, world.store())


def with_container(world: Any, **changes: Any) -> str:
    """An approved package like the world's, its container changed; provenance recorded."""
    arn = world.create_package("Approved")
    package = describe(world, arn)
    container = package["InferenceSpecification"]["Containers"][0] | changes
    return world.sagemaker.create_model_package(
        ModelPackageGroupName=world.group,
        ModelApprovalStatus="Approved",
        InferenceSpecification=package["InferenceSpecification"] | {"Containers": [container]},
        CustomerMetadataProperties=package["CustomerMetadataProperties"],
    )["ModelPackageArn"]


# ---- each check -------------------------------------------------------------------------------


def test_a_package_registered_by_this_stack_passes(world: Any) -> None:
    assert problems(world, world.create_package("Approved")) == []


def test_a_tampered_model_artifact_is_named_with_both_hashes(world: Any) -> None:
    arn = world.create_package("Approved")
    recorded = describe(world, arn)["CustomerMetadataProperties"]["model_sha256"]
    tampered = world.put_uri(world.model_data_url, b"someone else's model")
    assert problems(world, arn) == [
        f"model data {world.model_data_url} has SHA-256 {tampered[:12]}..., not the "
        f"{recorded[:12]}... recorded at registration"
    ]


def test_changed_code_is_named(world: Any) -> None:
    arn = world.create_package("Approved")
    world.put_uri(world.code_uri, b"code rewritten in place")
    [problem] = problems(world, arn)
    assert problem.startswith(f"code {world.code_uri} has SHA-256 ")


@pytest.mark.parametrize("what", ["model data", "code"])
def test_a_missing_artifact_is_named(world: Any, what: str) -> None:
    arn = world.create_package("Approved")
    uri = world.model_data_url if what == "model data" else world.code_uri
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    world.s3.delete_object(Bucket=bucket, Key=key)
    assert problems(world, arn) == [f"{what} {uri} is missing"]


def test_another_image_is_named(world: Any) -> None:
    other = IMAGE.replace("1.2-1", "0.23-1")
    arn = with_container(world, Image=other)
    assert problems(world, arn) == [f"image {other} is not the stack's image {IMAGE}"]


@pytest.mark.parametrize(
    "url",
    [
        "s3://someone-elses-bucket/runs/r/model.tar.gz",
        "s3://mlops-artifacts/shadow-tests/r/model.tar.gz",
        "s3://mlops-artifacts/runs/",
        "https://mlops-artifacts.s3.amazonaws.com/runs/r/model.tar.gz",
    ],
    ids=["other-bucket", "other-prefix", "the-prefix-itself", "not-s3"],
)
def test_model_data_outside_this_stack_s_runs_is_named_and_not_read(world: Any, url: str) -> None:
    arn = with_container(world, ModelDataUrl=url)
    assert problems(world, arn) == [f"model data {url} is not under s3://mlops-artifacts/runs/"]


def test_code_outside_this_stack_s_code_versions_is_named(world: Any) -> None:
    elsewhere = "s3://mlops-artifacts/runs/r/sourcedir.tar.gz"
    arn = with_container(
        world, Environment={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY":
                            elsewhere}
    )  # fmt: skip
    assert problems(world, arn) == [f"code {elsewhere} is not under s3://mlops-artifacts/code/"]


def test_code_packed_into_the_model_instead_is_named(world: Any) -> None:
    arn = with_container(world, Environment={"SAGEMAKER_PROGRAM": "inference.py"})
    assert problems(world, arn) == ["code (none) is not under s3://mlops-artifacts/code/"]


def test_a_package_without_recorded_hashes_is_named_for_both(world: Any) -> None:
    arn = world.create_package("Approved", provenance=False, lineage={"candidate": "rf"})
    world.put_uri(world.model_data_url, b"model")
    world.put_uri(world.code_uri, b"code")
    assert problems(world, arn) == [
        f"model data {world.model_data_url} has no SHA-256 recorded at registration",
        f"code {world.code_uri} has no SHA-256 recorded at registration",
    ]


def test_every_problem_is_named_at_once(world: Any) -> None:
    arn = with_container(world, Image="elsewhere:1", ModelDataUrl="s3://x/runs/m.tar.gz")
    world.put_uri(world.code_uri, b"changed")
    assert [p.split(" ", 1)[0] for p in problems(world, arn)] == ["image", "model", "code"]


# ---- PlanDeployment ---------------------------------------------------------------------------


def test_a_deployment_that_fails_provenance_creates_nothing_and_rejects_the_version(
    world: Any, endpoint: Any
) -> None:
    # Given v1 live, and v2 approved whose model was replaced after registration
    world.create_package("Approved", model_data_url="s3://mlops-artifacts/runs/a/model.tar.gz")
    v2 = world.create_package("Approved")
    world.put_uri(world.model_data_url, b"tampered")
    endpoints = endpoint.present("InService", resource_name(ENDPOINT, 1, "deploy-1"))
    # When / Then the plan fails by name before any request is built
    with pytest.raises(ModelProvenanceInvalid) as excinfo:
        plan_deployment(
            world.package_event(v2, 2), execution("deploy-2"), DEPLOY, world.registry(),
            endpoints, world.store(),
        )  # fmt: skip
    message = str(excinfo.value)
    assert message.startswith(f"version 2 fails provenance: model data {world.model_data_url} ")
    assert message.endswith("; rejected, nothing deployed")
    assert world.sagemaker.list_models()["Models"] == []
    # And v2 leaves the champion's place to the version that serves (design D2)
    package = describe(world, v2)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == message.removesuffix("; rejected, nothing deployed")


# ---- PlanRollback and RecordRollback ----------------------------------------------------------


def test_a_rollback_passes_over_a_version_that_fails_provenance_then_rejects_it(
    world: Any, endpoint: Any
) -> None:
    # Given v1 and v2 approved, v3 live; v2's model was replaced after registration
    v1 = world.create_package("Approved", model_data_url="s3://mlops-artifacts/runs/a/m.tar.gz")
    v2 = world.create_package("Approved", model_data_url="s3://mlops-artifacts/runs/b/m.tar.gz")
    v3 = world.create_package("Approved")
    world.put_uri("s3://mlops-artifacts/runs/b/m.tar.gz", b"tampered")
    endpoints = endpoint.present("InService", resource_name(ENDPOINT, 3, "deploy-3"))
    # When an operator asks for a rollback
    plan = plan_rollback(
        OPERATOR, execution("rollback-1"), ROLLBACK, world.registry(), endpoints, world.store(),
        world.ledger(),
    )  # fmt: skip
    # Then it goes back to v1, naming v2 and why
    assert (plan.action, plan.version, plan.model_package_arn) == ("ROLLBACK", 1, v1)
    [passed] = plan.passed_over
    assert (passed.version, passed.model_package_arn) == (2, v2)
    assert passed.problems.startswith("model data s3://mlops-artifacts/runs/b/m.tar.gz has")
    assert plan.reason == (
        f"complaints; rolling back from version 3 to 1; version 2 passed over: {passed.problems}"
    )
    # And once it is done, v3 and v2 are rejected: the champion is v1, which serves
    record_rollback(plan, execution("rollback-1"), world.ledger(), world.registry())
    assert [describe(world, a)["ModelApprovalStatus"] for a in (v1, v2, v3)] == [
        "Approved", "Rejected", "Rejected",
    ]  # fmt: skip
    assert describe(world, v2)["ApprovalDescription"] == (
        f"passed over by rollback rollback-1: fails provenance: {passed.problems}"
    )


def test_a_rollback_with_no_older_version_passing_provenance_is_nothing(
    world: Any, endpoint: Any
) -> None:
    world.create_package("Approved", model_data_url="s3://mlops-artifacts/runs/a/m.tar.gz")
    world.create_package("Approved")
    world.put_uri("s3://mlops-artifacts/runs/a/m.tar.gz", b"tampered")
    endpoints = endpoint.present("InService", resource_name(ENDPOINT, 2, "deploy-2"))
    plan = plan_rollback(
        OPERATOR, execution("rollback-1"), ROLLBACK, world.registry(), endpoints, world.store(),
        world.ledger(),
    )  # fmt: skip
    assert (plan.action, [p.version for p in plan.passed_over]) == ("NOTHING", [1])
    assert plan.reason.startswith(
        "complaints; no approved version older than the live one (2) passes provenance, so the "
        "endpoint keeps serving it; version 1 fails provenance: model data "
    )
    assert plan.model == {}


def test_the_streamed_hash_is_the_sha256_of_the_whole_object(world: Any) -> None:
    body = b"x" * (3 * 1024 * 1024 + 17)  # several 1 MiB chunks and a remainder
    world.put_uri("s3://mlops-artifacts/runs/big/model.tar.gz", body)
    digest = world.store().sha256("s3://mlops-artifacts/runs/big/model.tar.gz")
    assert digest == hashlib.sha256(body).hexdigest()
    assert world.store().sha256("s3://mlops-artifacts/runs/none/model.tar.gz") is None
