"""mlops.retrain builds what the TrainingPipeline accepts (design decision D1): its requests
validate against the pipeline's own model, and the event it builds reaches the pipeline as the
same input through the stack bus rule. The helper does not import the Lambda layer, so these
tests are what keep the two in step."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from mlops_common.domain.events import parse_training_start
from mlops_common.models import DatasetLocation, RetrainRequest

from mlops.retrain import DETAIL_TYPE, SOURCE, retrain_event, retrain_request
from mlops.twin.cloudformation.template import load_template
from mlops.twin.events.input import target_input

URI = "s3://mlops-data/datasets/a.csv"


def parsed(request: dict) -> RetrainRequest:
    start = parse_training_start(request)
    assert isinstance(start, RetrainRequest)
    return start


def test_a_forced_request_for_a_version_is_the_pipelines_request() -> None:
    request = retrain_request(
        URI, " labels fixed ", "alice", force=True, version_id="v1", request_id="req-1"
    )
    assert parsed(request) == RetrainRequest(
        dataset=DatasetLocation(bucket="mlops-data", key="datasets/a.csv", version_id="v1"),
        reason="labels fixed",
        requested_by="alice",
        force=True,
        request_id="req-1",
        code_version=None,
    )


def test_latest_and_a_code_version_are_carried_as_given() -> None:
    start = parsed(retrain_request("latest", "code change", "codepipeline", code_version="v9"))
    assert (start.dataset, start.code_version, start.force) == ("latest", "v9", False)


def test_each_request_gets_its_own_id_and_a_replay_reuses_it() -> None:
    first = retrain_request(URI, "r", "alice")["retrain"]["request_id"]
    second = retrain_request(URI, "r", "alice")["retrain"]["request_id"]
    assert first != second and uuid.UUID(first)
    replay = retrain_request(URI, "r", "alice", request_id=first)
    assert parsed(replay).request_id == first


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        ((URI, "  ", "alice"), {}, "needs a reason"),
        ((URI, "r", ""), {}, "needs requested_by"),
        (("datasets/a.csv", "r", "alice"), {}, "an s3://bucket/key URI"),
        (("s3://mlops-data/datasets/", "r", "alice"), {}, "does not name an object"),
        (("latest", "r", "alice"), {"version_id": "v1"}, '"latest" names no version'),
        ((URI, "r", "alice"), {"code_version": "v 1"}, "not a valid code version"),
    ],
    ids=["blank-reason", "no-requester", "not-a-uri", "folder", "latest-version", "bad-code"],
)
def test_a_request_the_pipeline_would_refuse_is_refused_here(
    args: tuple, kwargs: dict, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        retrain_request(*args, **kwargs)


def test_the_event_reaches_the_pipeline_as_the_same_input_through_the_rule() -> None:
    # Given the request sent as an event to the stack bus
    request = retrain_request(URI, "labels fixed", "alice", force=True)
    entry = retrain_event(request, "mlops-dev-mlops")
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        SOURCE, DETAIL_TYPE, "mlops-dev-mlops",
    )  # fmt: skip
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": entry["DetailType"],
             "source": entry["Source"], "account": "123456789012", "time": 0,
             "region": "us-east-1", "resources": [],
             "detail": json.loads(entry["Detail"])}  # fmt: skip
    # When the rule's target renders it (the twin's renderer of InputTransformer)
    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    rule = template["Resources"]["TrainingPipeline"]["Properties"]["Events"]["RetrainRequested"]
    target = {"InputTransformer": rule["Properties"]["InputTransformer"]}
    delivered = json.loads(target_input(target, event, "arn:rule", "RetrainRequested"))
    # Then the pipeline starts with exactly what a direct StartExecution would send
    assert delivered == request
    assert rule["Properties"]["Pattern"] == {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
