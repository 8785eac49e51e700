"""AcquireEndpoint handler: `{"workflow": "deploy" | "rollback", "execution": $$.Execution}`.

Payload: events/functions/acquire_endpoint.json. The ledger is moto's DynamoDB table; the
executions are moto's Step Functions executions (RUNNING until stopped), named as the template
names the pipelines.
"""

import json
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
KEY = "lock#endpoint#mlops-endpoint"  # ENDPOINT_NAME in the functions' test environment


@pytest.fixture
def running(aws: Any, sample: Any) -> Any:
    """running("deploy-1"): the sample payload for a RUNNING DeployPipeline execution."""
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="mlops-DeployPipeline",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),  # fmt: skip
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]

    def start(name: str) -> dict[str, Any]:
        arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
        return sample("acquire_endpoint", {"execution.Name": name, "execution.Id": arn})

    return start


def test_the_first_execution_gets_the_endpoint_and_the_next_one_waits(
    load_handler: Any, stack: Any, running: Any, lambda_context: Any, asl_reads: Any, printed: Any
) -> None:
    handler = load_handler("acquire_endpoint")
    first, second = running("deploy-1"), running("deploy-2")
    got = handler.lambda_handler(first, lambda_context)
    waits = handler.lambda_handler(second, lambda_context)
    assert json.loads(json.dumps(got)) == got
    assert (got["acquired"], got["key"], got["holder"]) == (True, KEY, first["execution"]["Id"])
    assert (waits["acquired"], waits["holder"]) == (False, first["execution"]["Id"])
    assert waits["reason"].startswith("waiting for a turn: deploy execution ")
    # The DeployPipeline's EndpointTurn reads `acquired`
    assert asl_reads(got, "deploy_pipeline", "$.lock.Payload.") == {"acquired"}
    assert printed().correlation_ids() == {"deploy-1", "deploy-2"}
    item = stack.ledger.get_item(Key={"pk": KEY, "sk": "lock"})["Item"]
    assert (item["holder"], item["workflow"], item["status"]) == (
        first["execution"]["Id"],
        "deploy",
        "HELD",
    )


def test_a_workflow_name_the_model_does_not_know_is_refused(
    load_handler: Any, stack: Any, running: Any, lambda_context: Any
) -> None:
    handler = load_handler("acquire_endpoint")
    payload = running("deploy-1") | {"workflow": "training"}
    with pytest.raises(Exception, match="workflow"):
        handler.lambda_handler(payload, lambda_context)
