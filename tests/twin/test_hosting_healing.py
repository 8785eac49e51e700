"""Serving heals itself (mlops/twin/sagemaker/hosting/healing.py): a dead model server is
replaced from the same model, and until the replacement answers /ping its variant refuses
requests with ServiceUnavailable, as SageMaker does without a healthy instance."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import botocore.parsers
import botocore.session
import pytest

from mlops.twin.aws.responses import AwsError, error_response
from mlops.twin.sagemaker.hosting import INVOKED_VARIANT_HEADER, Hosting
from mlops.twin.sagemaker.hosting.errors import no_healthy_instance

if TYPE_CHECKING:
    from conftest import HostingWorld

pytestmark = pytest.mark.twin

JSON = "application/json"
RECOVERY_BOUND_S = 60.0  # a replacement is one model-server start; generous for a busy machine


@pytest.fixture
def hosting(world: HostingWorld, tmp_path: Path) -> Iterator[Hosting]:
    with world.hosting(tmp_path) as hosting:
        yield hosting


def in_service(hosting: Hosting, world: HostingWorld, *variants: tuple) -> str:
    name = f"heal-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(*variants))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    return name


def ask(hosting: Hosting, endpoint: str, **kwargs: str) -> tuple[str, str]:
    """(variant, version) of one successful answer; raises the AwsError of a failed one."""
    _, headers, body = hosting.invoke(endpoint, b'{"instances": [1]}', JSON, JSON, **kwargs)
    return headers[INVOKED_VARIANT_HEADER], json.loads(body)["predictions"][0]["version"]


class Traffic:
    """Invokes the endpoint back to back on a thread; records each outcome with its time."""

    def __init__(self, hosting: Hosting, endpoint: str) -> None:
        self.hosting, self.endpoint = hosting, endpoint
        self.outcomes: list[tuple[float, str]] = []  # (monotonic time, "ok" or error code)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ask(self.hosting, self.endpoint)
                outcome = "ok"
            except AwsError as error:
                outcome = error.code
            self.outcomes.append((time.monotonic(), outcome))
            time.sleep(0.01)

    def first_ok_after(self, moment: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = [t for t, outcome in list(self.outcomes) if t > moment and outcome == "ok"]
            if ok:
                return ok[0]
            time.sleep(0.05)
        return None


def test_a_killed_model_server_is_replaced_from_the_same_model_under_traffic(
    hosting: Hosting, world: HostingWorld
) -> None:
    endpoint = in_service(hosting, world, ("AllTraffic", "blue"))
    (server,) = hosting.servers(endpoint)
    with Traffic(hosting, endpoint) as traffic:
        time.sleep(0.5)
        killed = time.monotonic()
        os.kill(server.popen.pid, signal.SIGKILL)
        back = traffic.first_ok_after(killed, RECOVERY_BOUND_S)
        time.sleep(0.3)
    assert back is not None, f"no successful answer within {RECOVERY_BOUND_S}s of the kill"
    print(
        f"\nmodel server killed under traffic: first successful answer {back - killed:.2f} s later"
    )
    during = Counter(outcome for t, outcome in traffic.outcomes if killed < t < back)
    assert set(during) <= {"ServiceUnavailable", "ModelError"}, during
    assert during["ModelError"] <= 1, "only a request in flight at the kill meets the dying server"
    assert {outcome for t, outcome in traffic.outcomes if t > back} == {"ok"}
    (replacement,) = hosting.servers(endpoint)
    assert replacement.popen.pid != server.popen.pid and replacement.running
    assert ask(hosting, endpoint) == ("AllTraffic", "blue"), "the same model serves again"
    assert hosting.describe_endpoint(endpoint)["EndpointStatus"] == "InService"
    [replaced] = hosting.supervisor.replacements
    assert replaced["variant"] == "AllTraffic" and replaced["attempts"] == 0


def test_the_other_variant_keeps_serving_while_one_is_replaced(
    hosting: Hosting, world: HostingWorld
) -> None:
    endpoint = in_service(hosting, world, ("A", "blue", 1.0), ("B", "green", 1.0))
    server_a = next(s for s in hosting.servers(endpoint) if s.variant_name == "A")
    server_a.popen.kill()
    server_a.popen.wait()
    with pytest.raises(AwsError) as refused:
        ask(hosting, endpoint, target_variant="A")
    assert refused.value.code == "ServiceUnavailable" and refused.value.status == 503
    assert ask(hosting, endpoint, target_variant="B") == ("B", "green")
    deadline = time.monotonic() + RECOVERY_BOUND_S
    while time.monotonic() < deadline:
        try:
            assert ask(hosting, endpoint, target_variant="A") == ("A", "blue")
            break
        except AwsError:
            time.sleep(0.1)
    else:
        pytest.fail("variant A was not replaced")


def test_a_dead_shadow_fails_its_copies_until_it_is_replaced(
    hosting: Hosting, world: HostingWorld
) -> None:
    name = f"heal-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, world.config(("AllTraffic", "blue"), shadow="green"))
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    (shadow,) = [s for s in hosting.servers(name) if s.variant_name == "Shadow"]
    shadow.popen.kill()
    shadow.popen.wait()
    assert ask(hosting, name) == ("AllTraffic", "blue"), "production never notices"
    hosting.quiesce()
    assert hosting.shadow_stats(name)["Shadow"]["errors"] == 1, "the copy failed, visibly"
    deadline = time.monotonic() + RECOVERY_BOUND_S
    while not [r for r in hosting.supervisor.replacements if r["variant"] == "Shadow"]:
        assert time.monotonic() < deadline, "the shadow was not replaced"
        time.sleep(0.05)
    ask(hosting, name)
    hosting.quiesce()
    stats = hosting.shadow_stats(name)["Shadow"]
    assert (stats["count"], stats["errors"]) == (2, 1), "the replacement answers its copy"


def test_a_replacement_whose_model_no_longer_loads_is_retried_and_stops_with_its_endpoint(
    hosting: Hosting, world: HostingWorld, tmp_path: Path
) -> None:
    endpoint = in_service(hosting, world, ("AllTraffic", "blue"))
    (server,) = hosting.servers(endpoint)
    (model_json,) = (tmp_path / "work" / endpoint).glob("*/model/model.json")
    model_json.write_text(json.dumps({"version": "blue", "scale": 1, "fail_load": True}))
    server.popen.kill()
    deadline = time.monotonic() + RECOVERY_BOUND_S
    while "model load failed" not in server.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "no replacement was tried"
        time.sleep(0.1)
    with pytest.raises(AwsError) as refused:
        ask(hosting, endpoint)
    assert refused.value.code == "ServiceUnavailable"
    hosting.delete_endpoint(endpoint)  # the fixture then checks that no server outlives it
    assert hosting.supervisor.replacements == []


def test_service_unavailable_parses_as_botocore_service_unavailable() -> None:
    service = botocore.session.get_session().get_service_model("sagemaker-runtime")
    status, headers, body = error_response(no_healthy_instance("ep", "AllTraffic"))
    response = {"status_code": status, "headers": headers, "body": body}
    parser = botocore.parsers.create_parser(service.metadata["protocol"])
    parsed = parser.parse(response, service.operation_model("InvokeEndpoint").output_shape)
    assert status == 503 and parsed["Error"]["Code"] == "ServiceUnavailable"
    assert "ServiceUnavailable" in [shape.name for shape in service.error_shapes]
