"""The champion (design D2): the newest Approved version, the one definition every step uses,
and PlanDeployment's Superseded outcome for a version that is no longer it."""

from __future__ import annotations

from typing import Any

from mlops_common.domain.champion import champion
from mlops_common.domain.deployment import plan_deployment, resource_name
from mlops_common.models import Execution
from mlops_common.settings import DeploySettings

ENDPOINT = "mlops-endpoint"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SETTINGS = DeploySettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/mlops-sagemaker",
    error_alarm_name="mlops-endpoint-5xx",
    latency_alarm_name="mlops-new-fleet-latency",
    artifacts_bucket="mlops-artifacts",
    inference_image_uri=IMAGE,
)
EXECUTION = Execution(
    Name="deploy-9", Id="arn:aws:states:us-east-1:123456789012:execution:d:deploy-9"
)


def versions(world: Any, *statuses: str) -> list[str]:
    return [world.create_package(status) for status in statuses]


def test_the_champion_is_the_newest_approved_version(world: Any) -> None:
    v1, _, _, v4 = versions(world, "Approved", "PendingManualApproval", "Rejected", "Approved")
    found = champion(world.registry())
    assert found is not None and (found.version, found.model_package_arn) == (4, v4)
    assert found.model_data_url == world.model_data_url
    # A rejected champion (rolled back, say) gives the place back to the previous approved one
    world.sagemaker.update_model_package(ModelPackageArn=v4, ModelApprovalStatus="Rejected")
    assert champion(world.registry()).model_package_arn == v1  # type: ignore[union-attr]


def test_no_approved_version_is_no_champion(world: Any) -> None:
    versions(world, "PendingManualApproval", "Rejected")
    assert champion(world.registry()) is None


def test_the_champion_other_than_a_given_version(world: Any) -> None:
    v1, v2 = versions(world, "Approved", "Approved")
    assert champion(world.registry(), v2).model_package_arn == v1  # type: ignore[union-attr]


def test_an_older_approval_arriving_after_a_newer_one_is_superseded(
    world: Any, endpoint: Any
) -> None:
    # Given v2 and v3 approved (v3 deployed or about to be), v2's approval event comes late
    _, v2, v3 = versions(world, "Approved", "Approved", "Approved")
    # When its deployment gets its turn; Then nothing is planned, nor asked of the endpoint
    plan = plan_deployment(
        world.package_event(v2, 2), EXECUTION, SETTINGS, world.registry(), endpoint.untouched(),
        world.store(),
    )  # fmt: skip
    assert (plan.action, plan.model, plan.endpoint_config) == ("SUPERSEDED", {}, {})
    assert plan.champion is not None and (
        plan.champion.version,
        plan.champion.model_package_arn,
    ) == (
        3,
        v3,
    )
    assert plan.reason == (
        f"version 2 was superseded by version 3, the newest approved version (the champion), "
        f"which {ENDPOINT} is left to"
    )


def test_the_champion_itself_is_deployed_and_named_in_its_plan(world: Any, endpoint: Any) -> None:
    _, v2 = versions(world, "Approved", "Approved")
    live = endpoint.present("InService", resource_name(ENDPOINT, 1, "deploy-1"))
    plan = plan_deployment(
        world.package_event(v2, 2), EXECUTION, SETTINGS, world.registry(), live, world.store()
    )
    assert plan.action == "DEPLOY"
    assert plan.champion is not None and plan.champion.model_package_arn == v2


def test_a_replayed_approval_of_the_live_champion_is_still_skipped(
    world: Any, endpoint: Any
) -> None:
    [v1] = versions(world, "Approved")
    live = endpoint.present("InService", resource_name(ENDPOINT, 1, "deploy-1"))
    plan = plan_deployment(
        world.package_event(v1, 1), EXECUTION, SETTINGS, world.registry(), live, world.store()
    )
    assert (plan.action, plan.reason) == ("SKIP", f"version 1 is already live on {ENDPOINT}")
