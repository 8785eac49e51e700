"""Shadow variants and SageMaker data capture in the twin's hosting seam.

moto runs in-process as a threaded server; endpoint configs are created through boto3 and
completed with `keep_shadow_variants` exactly as the gateway does after moto answered, and
`Hosting` is driven directly. Captured records are read back from moto's S3.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlops.twin.sagemaker.hosting import Hosting, ModelError, capture_writer, keep_shadow_variants
from mlops.twin.sagemaker.hosting.moto_store import load_endpoint_config

if TYPE_CHECKING:
    from conftest import HostingWorld

pytestmark = pytest.mark.twin

ACCOUNT, REGION = "123456789012", "us-east-1"
CAPTURE_BUCKET = "capture-data"  # the world's capture bucket (conftest.HostingWorld)
JSON, CSV = "application/json", "text/csv"
LIVE = ("AllTraffic", "blue")  # the production variant of most configs here
KEY = re.compile(
    r"^(?P<prefix>.+)/(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/"
    r"(?P<hour>\d{4}/\d{2}/\d{2}/\d{2})/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$"
)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _capture(prefix: str, percent: int = 100, enabled: bool = True, **extra: Any) -> dict:
    return {
        "EnableCapture": enabled,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": f"s3://{CAPTURE_BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": [CSV], "JsonContentTypes": [JSON]},
        **extra,
    }


@pytest.fixture
def only_explicit_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the 1 s upload timer out of the way, so batching is deterministic."""
    monkeypatch.setattr(capture_writer, "FLUSH_INTERVAL_SECONDS", 3600.0)


@pytest.fixture
def hosting(world: HostingWorld, tmp_path: Path) -> Iterator[Hosting]:
    with world.hosting(tmp_path) as hosting:
        yield hosting


def _endpoint(hosting: Hosting, config: str) -> str:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    hosting.create_endpoint(name, config)
    assert hosting.wait_until_settled(name)["EndpointStatus"] == "InService"
    return name


def _invoke(hosting: Hosting, name: str, value: int, **kwargs: Any) -> tuple[str, dict]:
    body = json.dumps({"instances": [value]}).encode()
    status, headers, reply = hosting.invoke(name, body, JSON, JSON, **kwargs)
    assert status == 200
    return headers["Content-Type"], json.loads(reply)


def _records(files: dict[str, list[str]], variant: str) -> dict[str, dict]:
    """eventId -> record, for one variant's files (checking each key's documented layout)."""
    out = {}
    for key, lines in files.items():
        match = KEY.match(key)
        assert match, key
        if match["variant"] != variant:
            continue
        for line in lines:
            record = json.loads(line)
            when = record["eventMetadata"]["inferenceTime"]
            assert match["hour"] == f"{when[:4]}/{when[5:7]}/{when[8:10]}/{when[11:13]}"
            out[record["eventMetadata"]["eventId"]] = record
    return out


# -- ShadowProductionVariants: kept on moto's record (moto 5.2.5 drops them) --------------
def test_kept_shadow_variants_are_described_and_loaded(world: HostingWorld) -> None:
    from moto.sagemaker.models import sagemaker_backends

    name = world.config(LIVE, shadow="green", capture=_capture("contract"))
    request = world.requests[name]

    described = world.sagemaker.describe_endpoint_config(EndpointConfigName=name)
    record = sagemaker_backends[ACCOUNT][REGION].endpoint_configs[name]
    spec = load_endpoint_config(ACCOUNT, REGION, name)

    assert described["ShadowProductionVariants"] == request["ShadowProductionVariants"]
    assert described["DataCaptureConfig"] == request["DataCaptureConfig"]
    assert record.data_capture_config == request["DataCaptureConfig"]
    assert [v.name for v in spec.shadow_variants] == ["Shadow"]
    assert spec.data_capture is not None and spec.data_capture.sampling_percentage == 100
    keep_shadow_variants(ACCOUNT, REGION, {**request, "EndpointConfigName": "absent"})
    plain = world.config(LIVE)  # no shadow variants: moto's record stays as moto made it
    assert "ShadowProductionVariants" not in world.sagemaker.describe_endpoint_config(
        EndpointConfigName=plain
    )


# -- data capture --------------------------------------------------------------------------
def test_production_and_shadow_records_land_under_documented_keys_and_pair_by_event_id(
    world: HostingWorld, hosting: Hosting, only_explicit_flushes: None
) -> None:
    prefix = f"pairs-{uuid.uuid4().hex[:6]}"
    name = _endpoint(hosting, world.config(LIVE, shadow="green", capture=_capture(prefix)))

    for value in range(3):
        _invoke(hosting, name, value, inference_id=f"req-{value}")
    with pytest.raises(ModelError):  # failed requests write no record (see capture.py)
        hosting.invoke(name, b'{"instances": ["explode"]}', JSON, JSON)
    hosting.quiesce()

    files = world.captured(prefix)
    production, shadow = _records(files, "AllTraffic"), _records(files, "Shadow")
    assert len(files) == 2  # one buffered file per variant, not one object per request
    assert {KEY.match(k)["endpoint"] for k in files} == {name}
    assert len(production) == 3 and set(shadow) == set(production)
    for event_id, live in production.items():
        copy = shadow[event_id]
        assert live["eventVersion"] == copy["eventVersion"] == "0"
        assert TIME.match(live["eventMetadata"]["inferenceTime"])
        inference_id = live["eventMetadata"]["inferenceId"]
        value = int(inference_id.removeprefix("req-"))
        assert copy["eventMetadata"]["inferenceId"] == inference_id
        assert live["captureData"]["endpointInput"] == copy["captureData"]["endpointInput"]
        assert live["captureData"]["endpointInput"] == {
            "observedContentType": JSON,
            "mode": "INPUT",
            "data": json.dumps({"instances": [value]}),
            "encoding": "JSON",
        }
        for record, version, scale in ((live, "blue", 1), (copy, "green", 10)):
            output = record["captureData"]["endpointOutput"]
            assert (output["mode"], output["encoding"], output["observedContentType"]) == (
                "OUTPUT",
                "JSON",
                JSON,
            )
            [prediction] = json.loads(output["data"])["predictions"]
            assert prediction == {"version": version, "value": value * scale}
    summary = hosting.describe_endpoint(name)["DataCaptureConfig"]
    assert summary == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{CAPTURE_BUCKET}/{prefix}",
    }


@pytest.mark.parametrize(
    ("extra", "input_encoding", "output_encoding"),
    [
        ({}, "CSV", "JSON"),
        ({"CaptureContentTypeHeader": {}}, "BASE64", "BASE64"),  # AWS default: base64
        ({"CaptureOptions": [{"CaptureMode": "Input"}]}, "CSV", None),
    ],
    ids=["typed", "no-content-types", "input-only"],
)
def test_capture_encodes_by_content_type_and_captures_the_configured_modes(
    world: HostingWorld,
    hosting: Hosting,
    extra: dict,
    input_encoding: str,
    output_encoding: str | None,
) -> None:
    prefix = f"enc-{uuid.uuid4().hex[:6]}"
    name = _endpoint(
        hosting, world.config(("AllTraffic", "defaults"), capture=_capture(prefix, **extra))
    )

    hosting.invoke(name, b"1,2,3\n4,5,6\n", CSV, JSON)
    hosting.quiesce()

    [record] = _records(world.captured(prefix), "AllTraffic").values()
    data = record["captureData"]
    decode = {"BASE64": lambda d: base64.b64decode(d).decode()}
    sent = data["endpointInput"]
    assert (sent["encoding"], sent["observedContentType"]) == (input_encoding, CSV)
    assert decode.get(input_encoding, str)(sent["data"]) == "1,2,3\n4,5,6\n"
    if output_encoding is None:
        assert "endpointOutput" not in data
    else:
        answer = data["endpointOutput"]
        assert answer["encoding"] == output_encoding
        assert json.loads(decode.get(output_encoding, str)(answer["data"])) == [6.0, 15.0]


@pytest.mark.parametrize(
    ("percent", "enabled"), [(0, True), (100, False)], ids=["sampling-0", "disabled"]
)
def test_capture_writes_nothing_when_not_sampled_or_disabled(
    world: HostingWorld, hosting: Hosting, percent: int, enabled: bool
) -> None:
    prefix = f"none-{uuid.uuid4().hex[:6]}"
    capture = _capture(prefix, percent, enabled)
    name = _endpoint(hosting, world.config(LIVE, shadow="green", capture=capture))

    for value in range(5):
        _invoke(hosting, name, value)
    hosting.quiesce()

    assert world.captured(prefix) == {}
    assert hosting.shadow_stats(name)["Shadow"]["count"] == 5


def test_failing_shadow_never_breaks_production_answers_or_its_capture(
    world: HostingWorld, hosting: Hosting
) -> None:
    prefix = f"dead-{uuid.uuid4().hex[:6]}"
    name = _endpoint(hosting, world.config(LIVE, shadow="green", capture=_capture(prefix)))
    [shadow_server] = [s for s in hosting.servers(name) if s.variant_name == "Shadow"]
    shadow_server.popen.kill()
    shadow_server.popen.wait()

    answers = [_invoke(hosting, name, n)[1]["predictions"][0]["version"] for n in range(3)]
    hosting.quiesce()

    assert answers == ["blue"] * 3
    assert hosting.shadow_stats(name)["Shadow"]["errors"] == 3
    files = world.captured(prefix)
    assert len(_records(files, "AllTraffic")) == 3 and _records(files, "Shadow") == {}


def test_delete_endpoint_uploads_buffered_records(
    world: HostingWorld, hosting: Hosting, only_explicit_flushes: None
) -> None:
    prefix = f"del-{uuid.uuid4().hex[:6]}"
    name = _endpoint(hosting, world.config(LIVE, capture=_capture(prefix)))
    _invoke(hosting, name, 1)

    hosting.delete_endpoint(name)

    assert len(_records(world.captured(prefix), "AllTraffic")) == 1


def test_failed_upload_is_logged_and_invocations_still_answer(
    world: HostingWorld, hosting: Hosting, caplog: pytest.LogCaptureFixture
) -> None:
    capture = {**_capture("x"), "DestinationS3Uri": "s3://no-such-capture-bucket/x"}
    name = _endpoint(hosting, world.config(LIVE, capture=capture))

    with caplog.at_level(logging.ERROR, logger=capture_writer.__name__):
        answer = _invoke(hosting, name, 2)
        hosting.quiesce()

    assert answer[1]["predictions"] == [{"version": "blue", "value": 2}]
    assert "s3://no-such-capture-bucket/x/" in caplog.text and "1 records dropped" in caplog.text


def test_buffered_records_reach_s3_on_the_upload_timer_without_a_flush(
    world: HostingWorld, hosting: Hosting
) -> None:
    prefix = f"timer-{uuid.uuid4().hex[:6]}"
    name = _endpoint(hosting, world.config(LIVE, capture=_capture(prefix)))
    _invoke(hosting, name, 3)

    deadline = time.monotonic() + 30  # the timer fires every 1 s; this only bounds a hang
    while not world.captured(prefix) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert len(_records(world.captured(prefix), "AllTraffic")) == 1
