"""The twin's SageMaker hosting seam: real model servers, routing, blue/green guardrails.

moto runs in-process as a threaded server; models and endpoint configs are created through
boto3 against it, artefacts are uploaded to its S3, and `Hosting` is driven directly.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.parsers
import botocore.session
import pytest

from mlops.twin.aws.responses import error_response
from mlops.twin.sagemaker.hosting import (
    INVOKED_VARIANT_HEADER,
    Hosting,
    HostingError,
    ModelError,
    RuntimeValidationError,
)

if TYPE_CHECKING:
    from conftest import HostingWorld, ServerPids

pytestmark = pytest.mark.twin

ACCOUNT, REGION = "123456789012", "us-east-1"
JSON = "application/json"


@dataclass
class Recorder:
    """What Hosting tells the outside world: endpoint changes, metrics, alarm reads."""

    events: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    alarms: dict[str, str] = field(default_factory=dict)
    alarm_reads: Counter = field(default_factory=Counter)
    hooks: list[Callable[[dict], None]] = field(default_factory=list)

    def on_change(self, described: dict) -> None:
        self.events.append(copy.deepcopy(described))
        for hook in list(self.hooks):
            hook(described)

    def put_metrics(self, namespace: str, data: list[dict]) -> None:
        assert namespace == "AWS/SageMaker"
        self.metrics.extend(data)

    def alarm_state(self, name: str) -> str:
        self.alarm_reads[name] += 1
        return self.alarms.get(name, "OK")

    def steps(self) -> list[tuple[str, str | None]]:
        """(EndpointStatus, first pending variant status) per event."""
        out = []
        for event in self.events:
            variants = event.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
            status = variants[0]["VariantStatus"][0]["Status"] if variants else None
            out.append((event["EndpointStatus"], status))
        return out


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hosting(world: HostingWorld, recorder: Recorder, tmp_path: Path) -> Iterator[Hosting]:
    with world.hosting(
        tmp_path,
        on_endpoint_change=recorder.on_change,
        put_metrics=recorder.put_metrics,
        alarm_state=recorder.alarm_state,
    ) as hosting:
        yield hosting


def _answer(hosting: Hosting, endpoint: str, body: dict | None = None, **kwargs: Any):
    """Invoke once; return (variant header, model version that answered)."""
    payload = json.dumps(body or {"instances": [1]}).encode()
    status, headers, reply = hosting.invoke(endpoint, payload, JSON, JSON, **kwargs)
    assert status == 200
    return headers[INVOKED_VARIANT_HEADER], json.loads(reply)["predictions"][0]["version"]


def _in_service(hosting: Hosting, world: HostingWorld, *variants, shadow: str | None = None) -> str:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(*variants, shadow=shadow))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    return name


def _canary(percent: int, alarm: str | None = "green-errors", **policy: Any) -> dict:
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 1800,
            **policy,
        }
    }
    if alarm:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": alarm}]}
    return config


# -- create, describe, invoke --------------------------------------------------------------
def test_create_reaches_in_service_and_invoke_returns_model_answer_with_variant_header(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    config = world.config(("AllTraffic", "blue", 1.0, 2))
    created = hosting.create_endpoint("ep-create", config)

    described = hosting.wait_until_settled("ep-create")

    assert created == {"EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-create"}
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    assert "PendingDeploymentSummary" not in described and "FailureReason" not in described
    [variant] = described["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["DeployedImages"][0]["SpecifiedImage"] == world.image
    assert (variant["CurrentWeight"], variant["CurrentInstanceCount"]) == (1.0, 2)
    assert recorder.steps() == [("Creating", "Creating"), ("InService", None)]
    status, headers, body = hosting.invoke("ep-create", b'{"instances": [2, 3]}', JSON, None)
    assert status == 200
    assert headers == {"Content-Type": JSON, INVOKED_VARIANT_HEADER: "AllTraffic"}
    assert json.loads(body) == {
        "predictions": [{"version": "blue", "value": 2}, {"version": "blue", "value": 3}]
    }
    assert [e["EndpointName"] for e in hosting.list_endpoints()] == ["ep-create"]


def test_model_fn_error_marks_endpoint_failed_with_reason(
    hosting: Hosting, world: HostingWorld
) -> None:
    hosting.create_endpoint("ep-broken", world.config(("AllTraffic", "broken", 1.0, 1)))

    described = hosting.wait_until_settled("ep-broken")

    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "model.json asks model_fn to fail" in described["FailureReason"]
    assert hosting.servers("ep-broken") == []
    with pytest.raises(RuntimeValidationError, match="Endpoint ep-broken of account"):
        hosting.invoke("ep-broken", b'{"instances": [1]}', JSON, JSON)
    with pytest.raises(HostingError, match="Cannot update failed endpoint"):
        hosting.update_endpoint("ep-broken", world.config(("AllTraffic", "blue", 1.0, 1)))


def test_default_handlers_decode_csv_and_encode_json_with_sagemaker_inference(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "defaults", 1.0, 1))

    status, headers, body = hosting.invoke(name, b"1,2,3\n4,5,6\n", "text/csv", "*/*")

    assert (status, headers["Content-Type"]) == (200, JSON)
    assert json.loads(body) == [6.0, 15.0]


def test_missing_model_artefact_fails_create_with_download_reason(
    hosting: Hosting, world: HostingWorld
) -> None:
    config = world.config(("AllTraffic", "blue", 1.0, 1))
    from moto.sagemaker.models import sagemaker_backends

    [variant] = sagemaker_backends[ACCOUNT][REGION].endpoint_configs[config].production_variants
    model = sagemaker_backends[ACCOUNT][REGION].describe_model(variant["ModelName"])
    model.primary_container["ModelDataUrl"] = f"s3://{world.bucket}/models/absent/model.tar.gz"

    hosting.create_endpoint("ep-absent", config)
    described = hosting.wait_until_settled("ep-absent")

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith("Failed to download model data for container")


def test_delete_while_creating_leaves_no_server_behind(
    hosting: Hosting, world: HostingWorld, tmp_path: Path, model_servers: ServerPids
) -> None:
    hosting.create_endpoint("ep-short", world.config(("AllTraffic", "blue", 1.0, 1)))

    hosting.delete_endpoint("ep-short")

    assert model_servers(tmp_path) == []
    assert hosting.list_endpoints() == []


# -- error mapping -------------------------------------------------------------------------
def test_unsupported_content_type_is_model_error_with_original_415(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))

    with pytest.raises(ModelError) as caught:
        hosting.invoke(name, b"1,2", "text/plain", JSON)

    error = caught.value
    assert (error.code, error.status, error.original_status_code) == ("ModelError", 424, 415)
    assert error.message.startswith("Received client error (415) from primary with message")
    assert f"group=/aws/sagemaker/Endpoints/{name} in account {ACCOUNT}" in error.message
    assert "UnsupportedFormatError" in error.original_message
    assert error.log_stream_arn == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}"
    )


def test_input_error_with_toolkit_status_is_model_error_400(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))

    with pytest.raises(ModelError) as caught:
        hosting.invoke(name, b'{"rows": [1]}', JSON, JSON)

    assert caught.value.original_status_code == 400
    assert "instances is required" in caught.value.original_message
    assert caught.value.message.startswith("Received client error (400)")


@pytest.mark.parametrize(
    ("body", "cause"),
    [(b'{"instances": ["explode"]}', "predict_fn exploded"), (b"{not json", "JSONDecodeError")],
)
def test_model_exceptions_are_model_error_500(
    hosting: Hosting, world: HostingWorld, body: bytes, cause: str
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))

    with pytest.raises(ModelError) as caught:
        hosting.invoke(name, body, JSON, JSON)

    assert caught.value.original_status_code == 500
    assert caught.value.message.startswith("Received server error (500) from primary")
    assert cause in caught.value.original_message


def test_model_error_document_parses_as_botocore_model_error() -> None:
    error = ModelError("Received client error (400) ...", 400, "bad", "arn:aws:logs:x")
    service = botocore.session.get_session().get_service_model("sagemaker-runtime")
    status, headers, body = error_response(error)  # what the gateway sends
    response = {"status_code": status, "headers": headers, "body": body}
    parser = botocore.parsers.create_parser(service.metadata["protocol"])

    parsed = parser.parse(response, service.operation_model("InvokeEndpoint").output_shape)
    modeled = parser.parse(response, service.shape_for_error_code("ModelError"))

    assert parsed["Error"] == {"Code": "ModelError", "Message": "Received client error (400) ..."}
    assert modeled["OriginalStatusCode"] == 400
    assert modeled["OriginalMessage"] == "bad"
    assert modeled["LogStreamArn"] == "arn:aws:logs:x"


def test_control_plane_error_document_parses_as_botocore_validation_exception() -> None:
    error = HostingError('Could not find endpoint "arn:aws:sagemaker:x".')
    service = botocore.session.get_session().get_service_model("sagemaker")
    status, headers, body = error_response(error)  # what the gateway sends
    response = {"status_code": status, "headers": headers, "body": body}
    parser = botocore.parsers.create_parser(service.metadata["protocol"])

    parsed = parser.parse(response, service.operation_model("DescribeEndpoint").output_shape)

    assert parsed["Error"] == {"Code": "ValidationException", "Message": error.message}


# -- routing -------------------------------------------------------------------------------
def test_two_variants_at_equal_weight_both_receive_traffic(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = _in_service(hosting, world, ("A", "blue", 1.0, 1), ("B", "green", 1.0, 1))

    served = Counter(_answer(hosting, name) for _ in range(40))

    assert set(served) == {("A", "blue"), ("B", "green")}
    assert min(served.values()) >= 10  # seeded RNG: a fixed, roughly even split


def test_target_variant_overrides_weights(hosting: Hosting, world: HostingWorld) -> None:
    name = _in_service(hosting, world, ("A", "blue", 1.0, 1), ("B", "green", 0.0, 1))

    by_weight = {_answer(hosting, name) for _ in range(10)}
    targeted = {_answer(hosting, name, target_variant="B") for _ in range(10)}

    assert by_weight == {("A", "blue")}
    assert targeted == {("B", "green")}
    with pytest.raises(RuntimeValidationError, match="variant C is not present"):
        _answer(hosting, name, target_variant="C")


def test_update_weights_and_capacities_moves_traffic(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("A", "blue", 1.0, 1), ("B", "green", 1.0, 1))

    hosting.update_endpoint_weights_and_capacities(
        name, [{"VariantName": "A", "DesiredWeight": 0.0, "DesiredInstanceCount": 3}]
    )
    described = hosting.wait_until_settled(name)

    a = described["ProductionVariants"][0]
    assert (a["CurrentWeight"], a["DesiredWeight"], a["CurrentInstanceCount"]) == (0.0, 0.0, 3)
    assert recorder.steps()[-2:] == [("Updating", None), ("InService", None)]
    assert {_answer(hosting, name) for _ in range(10)} == {("B", "green")}
    with pytest.raises(HostingError, match="not present"):
        hosting.update_endpoint_weights_and_capacities(name, [{"VariantName": "Z"}])


def test_shadow_variant_gets_copies_and_never_answers(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1), shadow="green")

    answers = {_answer(hosting, name) for _ in range(8)}
    hosting.quiesce()

    assert answers == {("AllTraffic", "blue")}
    stats = hosting.shadow_stats(name)["Shadow"]
    assert (stats["count"], stats["errors"], stats["compared"]) == (8, 0, 8)
    assert stats["agreement"] == 0.0  # the shadow model answers "green"
    assert stats["mean_latency_ms"] > 0 and stats["production_mean_latency_ms"] > 0
    described = hosting.describe_endpoint(name)
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]


# -- metrics -------------------------------------------------------------------------------
def test_each_invocation_emits_variant_metrics_with_aws_names_units_and_dimensions(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))

    _answer(hosting, name)
    with pytest.raises(ModelError):
        hosting.invoke(name, b'{"instances": ["explode"]}', JSON, JSON)
    hosting.quiesce()

    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    assert all(d["Dimensions"] == dims for d in recorder.metrics)
    by_name: dict[str, list[dict]] = {}
    for datum in recorder.metrics:
        by_name.setdefault(datum["MetricName"], []).append(datum)
    assert set(by_name) == {
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "ModelLatency",
        "OverheadLatency",
    }
    assert [d["Value"] for d in by_name["Invocations"]] == [1.0, 1.0]
    assert [d["Value"] for d in by_name["Invocation5XXErrors"]] == [0.0, 1.0]
    assert [d["Value"] for d in by_name["Invocation4XXErrors"]] == [0.0, 0.0]
    assert {d["Unit"] for d in by_name["ModelLatency"] + by_name["OverheadLatency"]} == {
        "Microseconds"
    }
    assert all(d["Value"] > 0 for d in by_name["ModelLatency"])


# -- blue/green: all at once ---------------------------------------------------------------
def test_all_at_once_update_switches_to_new_model_and_stops_old_server(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))
    [blue_server] = hosting.servers(name)
    new_config = world.config(("AllTraffic", "green", 1.0, 1))

    hosting.update_endpoint(name, new_config)
    assert hosting.describe_endpoint(name)["EndpointStatus"] == "Updating"
    described = hosting.wait_until_settled(name)

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new_config
    assert "PendingDeploymentSummary" not in described and "FailureReason" not in described
    assert blue_server.popen.poll() is not None
    assert [s.config_name for s in hosting.servers(name)] == [new_config]
    assert {_answer(hosting, name) for _ in range(5)} == {("AllTraffic", "green")}
    updating = [e for e in recorder.events if e["EndpointStatus"] == "Updating"]
    assert updating[0]["PendingDeploymentSummary"]["EndpointConfigName"] == new_config
    assert [s for s in recorder.steps() if s[0] == "Updating"][:3] == [
        ("Updating", "Creating"),
        ("Updating", "ActivatingTraffic"),
        ("Updating", "Baking"),
    ]


def test_update_with_failing_model_stays_in_service_on_old_config_with_reason(
    hosting: Hosting, world: HostingWorld
) -> None:
    old_config = world.config(("AllTraffic", "blue", 1.0, 1))
    hosting.create_endpoint("ep-keep", old_config)
    hosting.wait_until_settled("ep-keep")

    hosting.update_endpoint("ep-keep", world.config(("AllTraffic", "broken", 1.0, 1)))
    described = hosting.wait_until_settled("ep-keep")

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == old_config
    assert "did not pass the ping health check" in described["FailureReason"]
    assert [s.config_name for s in hosting.servers("ep-keep")] == [old_config]
    assert {_answer(hosting, "ep-keep") for _ in range(5)} == {("AllTraffic", "blue")}


def test_control_plane_validation_matches_aws(hosting: Hosting, world: HostingWorld) -> None:
    config = world.config(("AllTraffic", "blue", 1.0, 1))
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))
    current = hosting.describe_endpoint(name)["EndpointConfigName"]

    with pytest.raises(HostingError, match='Cannot create already existing endpoint "arn:'):
        hosting.create_endpoint(name, config)
    with pytest.raises(HostingError, match="Could not find endpoint configuration"):
        hosting.create_endpoint("ep-nope", "no-such-config")
    with pytest.raises(HostingError, match="Could not find endpoint configuration"):
        hosting.update_endpoint(name, "no-such-config")
    with pytest.raises(HostingError, match="already uses"):
        hosting.update_endpoint(name, current)
    with pytest.raises(HostingError, match='Could not find endpoint "arn:'):
        hosting.describe_endpoint("ep-nope")
    hosting.update_endpoint(name, config)
    with pytest.raises(HostingError, match="Cannot update in-progress endpoint") as caught:
        hosting.update_endpoint(name, world.config(("AllTraffic", "green", 1.0, 1)))
    assert caught.value.code == "ValidationException"
    assert hosting.wait_until_settled(name)["EndpointConfigName"] == config


def test_delete_endpoint_stops_servers_and_forgets_it(
    hosting: Hosting, world: HostingWorld, tmp_path: Path, model_servers: ServerPids
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 1))
    [server] = hosting.servers(name)
    assert model_servers(tmp_path) == [server.popen.pid]

    hosting.delete_endpoint(name)

    assert server.popen.poll() is not None
    assert model_servers(tmp_path) == []
    assert name not in [e["EndpointName"] for e in hosting.list_endpoints()]
    with pytest.raises(HostingError, match="Could not find endpoint"):
        hosting.delete_endpoint(name)


# -- blue/green: canary and linear with auto-rollback --------------------------------------
def test_canary_alarm_during_bake_rolls_back_and_blue_serves_everything(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 2))
    old_config = hosting.describe_endpoint(name)["EndpointConfigName"]
    deployment = _canary(50)

    def trip_alarm_when_baking(described: dict) -> None:
        variants = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        if variants and variants[0]["VariantStatus"][0]["Status"] == "Baking":
            recorder.alarms["green-errors"] = "ALARM"

    recorder.hooks.append(trip_alarm_when_baking)
    hosting.update_endpoint(name, world.config(("AllTraffic", "green", 1.0, 2)), deployment)
    described = hosting.wait_until_settled(name)

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == old_config
    assert "green-errors" in described["FailureReason"]
    assert "rolled back" in described["FailureReason"]
    assert described["LastDeploymentConfig"] == deployment
    # Two instances of blue, one process each; green's were stopped
    assert [s.config_name for s in hosting.servers(name)] == [old_config] * 2
    assert {_answer(hosting, name) for _ in range(20)} == {("AllTraffic", "blue")}
    assert ("Updating", "Deleting") in recorder.steps()


def test_canary_with_ok_alarm_shares_traffic_then_completes_and_stops_blue(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 2))
    blue_servers = hosting.servers(name)
    assert len(blue_servers) == 2  # one process per instance
    new_config = world.config(("AllTraffic", "green", 1.0, 2))
    during_canary: list[tuple[str, str]] = []
    canary_weights: list[float] = []

    def invoke_during_canary_bake(described: dict) -> None:
        variants = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        status = variants[0]["VariantStatus"][0] if variants else {}
        if status.get("Status") == "Baking" and "Step 1/2" in status["StatusMessage"]:
            canary_weights.append(variants[0]["CurrentWeight"])
            during_canary.extend(_answer(hosting, name) for _ in range(40))

    recorder.hooks.append(invoke_during_canary_bake)
    hosting.update_endpoint(name, new_config, _canary(50))
    described = hosting.wait_until_settled(name)
    hosting.quiesce()

    assert canary_weights == [0.5]
    assert {v for _, v in during_canary} == {"blue", "green"}
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new_config
    assert "FailureReason" not in described
    assert all(server.popen.poll() is not None for server in blue_servers)
    assert recorder.alarm_reads["green-errors"] >= 3  # canary bake, full bake, final bake
    green_dims = {"Name": "EndpointConfigName", "Value": new_config}
    green_datums = [d for d in recorder.metrics if green_dims in d["Dimensions"]]
    assert {d["MetricName"] for d in green_datums} >= {"Invocations", "ModelLatency"}


def test_linear_steps_raise_the_green_weight_stepwise(
    hosting: Hosting, world: HostingWorld, recorder: Recorder
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 3))
    linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 60,
            },
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }

    hosting.update_endpoint(name, world.config(("AllTraffic", "green", 1.0, 3)), linear)
    hosting.wait_until_settled(name)

    shifts = [
        event["PendingDeploymentSummary"]["ProductionVariants"][0]["CurrentWeight"]
        for event, step in zip(recorder.events, recorder.steps(), strict=True)
        if step == ("Updating", "ActivatingTraffic")
    ]
    assert shifts == [0.333333, 0.666667, 1.0]
    assert hosting.describe_endpoint(name)["EndpointStatus"] == "InService"


BAD_DEPLOYMENTS = {
    "canary above half": (_canary(60), "CanarySize must be less than or equal to 50%"),
    "wait above 3600": (
        _canary(50, TerminationWaitInSeconds=3601),
        "Member must have value less than or equal to 3600",
    ),
    "timeout below 600": (
        _canary(50, MaximumExecutionTimeoutInSeconds=500),
        "Member must have value greater than or equal to 600",
    ),
    "timeout not above waits": (
        _canary(50, MaximumExecutionTimeoutInSeconds=620, TerminationWaitInSeconds=320),
        "must be greater than the total",
    ),
    "linear step too small": (
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "LINEAR",
                    "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                    "WaitIntervalInSeconds": 60,
                }
            }
        },
        "LinearStepSize must be 10-50%",
    ),
    "eleven alarms": (
        {
            **_canary(50, alarm=None),
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"a{i}"} for i in range(11)]},
        },
        "length between 1 and 10",
    ),
    "rolling and blue/green": (
        {
            **_canary(50),
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 60,
            },
        },
        "Only one of BlueGreenUpdatePolicy or RollingUpdatePolicy",
    ),
}


@pytest.mark.parametrize(("deployment", "message"), BAD_DEPLOYMENTS.values(), ids=BAD_DEPLOYMENTS)
def test_invalid_deployment_config_is_rejected_before_anything_starts(
    hosting: Hosting, world: HostingWorld, deployment: dict, message: str
) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 2))

    with pytest.raises(HostingError, match=message) as caught:
        hosting.update_endpoint(name, world.config(("AllTraffic", "green", 1.0, 2)), deployment)

    assert caught.value.code == "ValidationException"
    assert hosting.describe_endpoint(name)["EndpointStatus"] == "InService"
    assert len(hosting.servers(name)) == 2  # blue's two instances, no green started


def test_canary_requires_the_same_variant_names(hosting: Hosting, world: HostingWorld) -> None:
    name = _in_service(hosting, world, ("AllTraffic", "blue", 1.0, 2))

    with pytest.raises(HostingError, match="same variant names"):
        hosting.update_endpoint(name, world.config(("Other", "green", 1.0, 2)), _canary(50))


# -- moto internals this seam relies on (fail loudly on a moto upgrade) --------------------
def test_moto_keeps_endpoint_configs_and_models_where_the_seam_reads_them(
    world: HostingWorld,
) -> None:
    from moto.sagemaker.models import sagemaker_backends

    name = world.config(("AllTraffic", "blue", 1.0, 1))
    config = sagemaker_backends[ACCOUNT][REGION].endpoint_configs[name]
    [variant] = config.production_variants
    model = sagemaker_backends[ACCOUNT][REGION].describe_model(variant["ModelName"])

    assert config.endpoint_config_arn.endswith(f":endpoint-config/{name}")
    assert variant["InitialVariantWeight"] == 1.0 and variant["InitialInstanceCount"] == 1
    assert model.primary_container["ModelDataUrl"].endswith("/models/blue/model.tar.gz")
    assert model.primary_container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"


def test_moto_drops_shadow_production_variants(world: HostingWorld) -> None:
    # If this fails, moto now stores them: read them from moto instead of the gateway's stash.
    from moto.sagemaker.models import sagemaker_backends

    world.sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-shadow-contract",
        ProductionVariants=[world.variant("AllTraffic", "blue")],
        ShadowProductionVariants=[world.variant("Shadow", "green")],
    )

    config = sagemaker_backends[ACCOUNT][REGION].endpoint_configs["cfg-shadow-contract"]
    assert not hasattr(config, "shadow_production_variants")
