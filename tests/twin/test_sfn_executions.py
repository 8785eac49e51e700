"""GetExecutionHistory pages and orders as the Step Functions API reference says, and
DescribeExecution carries inputDetails/outputDetails (stepfunctions/executions.py)."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.twin

PASSES = 60  # two history events per Pass state: more than one default page of 100


@pytest.fixture(scope="module")
def finished(local_cloud: Any) -> str:
    """A finished execution of a chain of Pass states; its ARN."""
    sfn = local_cloud.client("stepfunctions")
    states = {
        f"P{i}": {"Type": "Pass", **({"Next": f"P{i + 1}"} if i < PASSES - 1 else {"End": True})}
        for i in range(PASSES)
    }
    machine = sfn.create_state_machine(
        name=f"history-{uuid.uuid4().hex[:6]}",
        definition=json.dumps({"StartAt": "P0", "States": states}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"secret": 1}')["executionArn"]
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return arn


def test_history_comes_in_pages_of_100_by_default_joined_by_next_token(local_cloud, finished):
    sfn = local_cloud.client("stepfunctions")
    everything = sfn.get_execution_history(executionArn=finished, maxResults=1000)
    assert "nextToken" not in everything
    total = everything["events"]
    assert len(total) > 100
    first = sfn.get_execution_history(executionArn=finished)
    assert len(first["events"]) == 100 and first["nextToken"]
    rest = sfn.get_execution_history(executionArn=finished, nextToken=first["nextToken"])
    assert first["events"] + rest["events"] == total and "nextToken" not in rest
    paged = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(
            executionArn=finished, PaginationConfig={"PageSize": 7}
        )
        for event in page["events"]
    ]
    assert [e["id"] for e in paged] == [e["id"] for e in total]


def test_reverse_order_starts_with_the_newest_event(local_cloud, finished):
    sfn = local_cloud.client("stepfunctions")
    newest = sfn.get_execution_history(executionArn=finished, reverseOrder=True, maxResults=3)
    assert newest["events"][0]["type"] == "ExecutionSucceeded"
    ids = [e["id"] for e in newest["events"]]
    assert ids == sorted(ids, reverse=True)
    oldest = sfn.get_execution_history(executionArn=finished, maxResults=1)["events"][0]
    assert oldest["type"] == "ExecutionStarted"


def test_execution_data_can_be_left_out(local_cloud, finished):
    sfn = local_cloud.client("stepfunctions")
    events = sfn.get_execution_history(
        executionArn=finished, includeExecutionData=False, maxResults=1000
    )["events"]
    started = events[0]["executionStartedEventDetails"]
    assert "input" not in started and "roleArn" in started
    with_data = sfn.get_execution_history(executionArn=finished, maxResults=1)["events"][0]
    assert json.loads(with_data["executionStartedEventDetails"]["input"]) == {"secret": 1}


def test_a_token_the_twin_did_not_give_is_invalid(local_cloud, finished):
    with pytest.raises(ClientError) as raised:
        local_cloud.client("stepfunctions").get_execution_history(
            executionArn=finished, nextToken="not-a-token"
        )
    assert raised.value.response["Error"]["Code"] == "InvalidToken"


def test_describe_execution_has_input_and_output_details(local_cloud, finished):
    described = local_cloud.client("stepfunctions").describe_execution(executionArn=finished)
    assert described["inputDetails"] == {"included": True}
    assert described["outputDetails"] == {"included": True}
    assert json.loads(described["output"]) == {"secret": 1}


def test_contract_moto_still_answers_history_in_one_page_without_input_details():
    from moto.stepfunctions import responses

    source = inspect.getsource(responses)
    history = source[source.index("def get_execution_history") :][:600]
    assert "maxResults" not in history and "reverseOrder" not in history, (
        "moto now pages GetExecutionHistory; revisit mlops/twin/stepfunctions/executions.py"
    )
    describe = source[source.index("def describe_execution") :][:1800]
    assert "inputDetails" not in describe and '"outputDetails"' in describe
