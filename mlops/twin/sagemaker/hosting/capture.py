"""SageMaker real-time data capture: the endpoint config's settings and the record AWS writes.

Shapes as AWS documents them:
- API reference `DataCaptureConfig` (EnableCapture "defaults to enabled",
  InitialSamplingPercentage 0-100, DestinationS3Uri, KmsKeyId, CaptureOptions[CaptureMode
  Input | Output | InputAndOutput]) and `CaptureContentTypeHeader` (CsvContentTypes,
  JsonContentTypes; "If no headers are specified SageMaker AI will by default base64 encode").
- Developer guide "Capture data from real-time endpoint", section "View captured data": files
  at `{DestinationS3Uri}/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl`, one
  JSON line per request: captureData.endpointInput / endpointOutput {observedContentType,
  mode "INPUT" | "OUTPUT", data, encoding "CSV" | "JSON" | "BASE64"}, eventMetadata
  {eventId, inferenceTime "2022-02-14T17:25:49Z"}, eventVersion "0". The sample captures an
  output typed "text/csv; charset=utf-8" as CSV with CsvContentTypes ["text/csv"], so types
  are matched on the media type without parameters.
- InvokeEndpoint `InferenceId`: "added to the captured data" (eventMetadata.inferenceId).
- File names as real buckets show them: `<minute>-<second>-<millisecond>-<uuid>.jsonl`
  within the hour directory (e.g. `AllTraffic/2020/03/11/12/32-18-648-cee08c3a-....jsonl`).

What AWS does not document, and the twin therefore decides:
- Failed invocations (the container answered 4xx/5xx or was unreachable) write no record:
  the guide describes captured data as the request plus "the inference outputs from your
  deployed model", and a failed request has no inference output. Every record therefore has
  an endpointOutput when Output is captured.
- Shadow variants: the shadow-test guide only says "you can also optionally turn on Data
  Capture to log requests and responses of your production and shadow variants"; it does not
  say how the two records of one request relate. The twin samples each request once, and
  writes the shadow copy's record, under the shadow variant's name, with the SAME eventId as
  the production record: pairing by eventId is how the twin compares the two answers.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops.twin.aws.timestamps import iso_seconds

INPUT_MODES = {"Input", "InputAndOutput"}
OUTPUT_MODES = {"Output", "InputAndOutput"}


def media_type(content_type: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (what CaptureContentTypeHeader lists)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class DataCaptureSpec:
    """An endpoint config's DataCaptureConfig, as the runtime applies it."""

    enabled: bool
    sampling_percentage: int
    destination_s3_uri: str
    kms_key_id: str | None
    capture_input: bool
    capture_output: bool
    csv_content_types: frozenset[str]
    json_content_types: frozenset[str]

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None) -> DataCaptureSpec | None:
        """Parse the CreateEndpointConfig DataCaptureConfig dict (None/empty: no capture)."""
        if not raw:
            return None
        modes = {option.get("CaptureMode") for option in raw.get("CaptureOptions") or []}
        headers = raw.get("CaptureContentTypeHeader") or {}
        return cls(
            enabled=bool(raw.get("EnableCapture", True)),
            sampling_percentage=int(raw.get("InitialSamplingPercentage", 0)),
            destination_s3_uri=str(raw.get("DestinationS3Uri", "")),
            kms_key_id=raw.get("KmsKeyId") or None,
            capture_input=bool(modes & INPUT_MODES),
            capture_output=bool(modes & OUTPUT_MODES),
            csv_content_types=frozenset(media_type(t) for t in headers.get("CsvContentTypes", [])),
            json_content_types=frozenset(
                media_type(t) for t in headers.get("JsonContentTypes", [])
            ),
        )

    def summary(self) -> dict[str, Any]:
        """DescribeEndpoint's DataCaptureConfigSummary."""
        out: dict[str, Any] = {
            "EnableCapture": self.enabled,
            "CaptureStatus": "Started" if self.enabled else "Stopped",
            "CurrentSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": self.destination_s3_uri,
        }
        if self.kms_key_id:
            out["KmsKeyId"] = self.kms_key_id
        return out

    def encoding(self, content_type: str | None) -> str:
        media = media_type(content_type)
        if media in self.csv_content_types:
            return "CSV"
        if media in self.json_content_types:
            return "JSON"
        return "BASE64"


@dataclass(frozen=True)
class CaptureEvent:
    """One sampled request; every variant that answers it records this eventId."""

    spec: DataCaptureSpec
    endpoint: str
    event_id: str
    inference_id: str | None = None


def sample_request(
    spec: DataCaptureSpec | None,
    endpoint: str,
    draw: Callable[[], float],
    inference_id: str | None = None,
) -> CaptureEvent | None:
    """Decide once per request whether it is captured (InitialSamplingPercentage)."""
    if spec is None or not spec.enabled or spec.sampling_percentage <= 0:
        return None
    if spec.sampling_percentage < 100 and draw() * 100 >= spec.sampling_percentage:
        return None
    return CaptureEvent(spec, endpoint, str(uuid.uuid4()), inference_id)


def _payload(spec: DataCaptureSpec, body: bytes, content_type: str, mode: str) -> dict[str, str]:
    encoding = spec.encoding(content_type)
    data: str | None = None
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:  # declared CSV/JSON but not text: keep the bytes intact
            encoding = "BASE64"
    if data is None:
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_record(
    event: CaptureEvent,
    request_body: bytes,
    request_content_type: str,
    reply_body: bytes,
    reply_content_type: str,
    inference_time: datetime,
) -> dict[str, Any]:
    """The JSON line one successful invocation of one variant produces."""
    spec = event.spec
    data: dict[str, Any] = {}
    if spec.capture_input:
        data["endpointInput"] = _payload(spec, request_body, request_content_type, "INPUT")
    if spec.capture_output:
        data["endpointOutput"] = _payload(spec, reply_body, reply_content_type, "OUTPUT")
    metadata = {"eventId": event.event_id}
    if event.inference_id:
        metadata["inferenceId"] = event.inference_id
    metadata["inferenceTime"] = iso_seconds(inference_time)
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}


def capture_file_key(prefix: str, endpoint: str, variant: str, first: datetime) -> str:
    """`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<MM>-<SS>-<mmm>-<uuid>.jsonl` (UTC)."""
    name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    parts = [prefix, endpoint, variant, f"{first:%Y/%m/%d/%H}", name]
    return "/".join(part for part in parts if part)
