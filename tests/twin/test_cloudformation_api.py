"""CloudFormation's read API for the stacks the twin provisions (AWS CloudFormation API
reference: DescribeStacks, ListStackResources), answered through the gateway, and moto still
answering for every other stack and operation."""

from __future__ import annotations

import dataclasses

import pytest
from botocore.exceptions import ClientError

from mlops.twin.cloudformation import api
from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.cloudformation.stacks import StackRecords
from mlops.twin.cloudformation.template import TemplateError, load_template, resolve_parameters
from mlops.twin.stack import ROOT, STACK_NAME, twin_parameters

pytestmark = pytest.mark.twin


@pytest.fixture(scope="module")
def stack(local_cloud):
    provisioned = Provisioner(
        local_cloud.client, local_cloud.runtime, ROOT, local_cloud.account, local_cloud.region
    ).deploy(STACK_NAME, ROOT / "template.yaml", twin_parameters(local_cloud.region))
    local_cloud.stacks.put(provisioned)
    return provisioned


def test_describe_stacks_reports_status_parameters_and_outputs_of_a_provisioned_stack(
    stack, local_cloud
):
    (described,) = local_cloud.client("cloudformation").describe_stacks(StackName=STACK_NAME)[
        "Stacks"
    ]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["StackId"] == stack.stack_id
    assert described["StackId"].startswith(
        f"arn:aws:cloudformation:{local_cloud.region}:{local_cloud.account}:stack/{STACK_NAME}/"
    )
    assert described["CreationTime"].tzinfo is not None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs == stack.outputs and "EventBusName" in outputs
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    # Every parameter the template declares, with the value the stack was created with.
    assert set(parameters) == set(load_template(ROOT / "template.yaml")["Parameters"])
    assert parameters["EndpointPollSeconds"] == "1"
    assert parameters["DeploymentStrategy"] == "CANARY"  # the template's default
    assert described["Description"].startswith(stack.description[:20])


def test_describe_stacks_finds_a_stack_by_its_id_and_lists_it_without_a_name(stack, local_cloud):
    cloudformation = local_cloud.client("cloudformation")
    (by_id,) = cloudformation.describe_stacks(StackName=stack.stack_id)["Stacks"]
    assert by_id["StackName"] == STACK_NAME
    names = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    assert names == [STACK_NAME]


def test_list_stack_resources_pages_through_every_resource_with_its_physical_id(
    stack, local_cloud, monkeypatch
):
    monkeypatch.setattr(api, "RESOURCES_PAGE", 60)  # the stack has between 60 and 120
    pages = list(
        local_cloud.client("cloudformation")
        .get_paginator("list_stack_resources")
        .paginate(StackName=STACK_NAME)
    )
    summaries = [s for page in pages for s in page["StackResourceSummaries"]]
    assert 60 < len(stack.physical_ids) <= 120 and len(pages) == 2
    by_logical = {s["LogicalResourceId"]: s for s in summaries}
    assert len(by_logical) == len(summaries) == len(stack.physical_ids)
    queue = by_logical["EventsDeadLetterQueue"]
    assert queue["ResourceType"] == "AWS::SQS::Queue"
    assert queue["PhysicalResourceId"].startswith("http")  # a queue's Ref is its URL
    assert queue["ResourceStatus"] == "CREATE_COMPLETE"
    # Resources SAM generated are listed under their generated logical ids, as on AWS.
    rule = by_logical["TrainingPipelineRetrainRequested"]
    assert rule["ResourceType"] == "AWS::Events::Rule"
    assert rule["PhysicalResourceId"] == stack.physical_ids["TrainingPipelineRetrainRequested"]


def test_an_unknown_stack_is_left_to_moto_which_answers_as_cloudformation_does(stack, local_cloud):
    cloudformation = local_cloud.client("cloudformation")
    for call in (cloudformation.describe_stacks, cloudformation.list_stack_resources):
        with pytest.raises(ClientError) as raised:
            call(StackName="no-such-stack")
        error = raised.value.response["Error"]
        assert error["Code"] == "ValidationError"
        assert error["Message"] == "Stack with id no-such-stack does not exist"


def test_other_cloudformation_operations_still_reach_moto(stack, local_cloud):
    cloudformation = local_cloud.client("cloudformation")
    cloudformation.create_stack(
        StackName="moto-only",
        TemplateBody='{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}',
    )
    try:
        (moto_stack,) = cloudformation.describe_stacks(StackName="moto-only")["Stacks"]
        assert moto_stack["StackStatus"] == "CREATE_COMPLETE"
        assert "moto-only" in {
            s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]
        }
    finally:
        cloudformation.delete_stack(StackName="moto-only")


def test_a_bad_next_token_is_a_validation_error(stack, local_cloud):
    with pytest.raises(ClientError) as raised:
        local_cloud.client("cloudformation").list_stack_resources(
            StackName=STACK_NAME, NextToken="bm90LWEtdG9rZW4="
        )
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_a_stack_put_again_is_updated_in_place_with_its_changed_resources_timed(stack):
    records = StackRecords()
    with records:
        first = records.put(stack)
        changed = dataclasses.replace(
            stack, physical_ids=stack.physical_ids | {"EventBus": "another-bus"}
        )
        second = records.put(changed)
        assert (first.status, second.status) == ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        assert second.created == first.created and second.updated is not None
        assert second.resource_time("EventBus") == second.updated
        assert second.resource_time("LedgerTable") == first.created
        assert records.find(stack.stack_id) is second
    # Uninstalled, the seam forgets its stacks: moto answers for every name again.
    assert records.find(STACK_NAME) is None and records.all() == []


def test_a_parameter_the_template_does_not_declare_is_refused_by_name():
    with pytest.raises(TemplateError, match=r"Parameters: \['NoSuchParameter'\] do not exist"):
        resolve_parameters(load_template(ROOT / "template.yaml"), {"NoSuchParameter": "1"})
