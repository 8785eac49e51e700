"""The twin is no door for web pages (mlops/twin/door.py): what a browser sends is refused
before it reaches moto or a seam, and so is a DNS-rebinding page's host name; what AWS SDKs
send on this machine passes. Every answer the gateway builds carries a request id."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.twin.door import is_loopback_host

pytestmark = pytest.mark.twin

EVIL = "http://evil.example"


def send(
    cloud: Any, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request to the twin, as a browser or a hand-written client sends it."""
    connection = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def form(fields: dict[str, str], file: bytes) -> tuple[str, bytes]:
    """A multipart/form-data body, as an HTML form posting a file sends it."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.py"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    return f"multipart/form-data; boundary={boundary}", b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode()


@pytest.fixture(scope="module")
def bucket(local_cloud: Any) -> str:
    name = f"door-{uuid.uuid4().hex[:8]}"
    local_cloud.client("s3").create_bucket(Bucket=name)
    return name


def keys(cloud: Any, bucket: str) -> list[str]:
    listed = cloud.client("s3").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_cross_origin_form_post_is_refused_and_writes_nothing(local_cloud, bucket):
    content_type, body = form({"key": "from-a-web-page.py"}, b"import os")
    status, headers, answer = send(
        local_cloud, "POST", f"/{bucket}", body, Origin=EVIL, Content_Type=content_type
    )
    assert status == 403
    assert b"Origin: http://evil.example" in answer
    assert "access-control-allow-origin" not in headers
    assert keys(local_cloud, bucket) == []
    # The same form from a program on this machine (no Origin) is an ordinary S3 POST upload.
    content_type, body = form({"key": "from-a-program.py"}, b"import os")
    status, _, _ = send(local_cloud, "POST", f"/{bucket}", body, Content_Type=content_type)
    assert status in (200, 201, 204)
    assert keys(local_cloud, bucket) == ["from-a-program.py"]


def test_a_preflight_is_refused_and_invites_no_cross_origin_call(local_cloud):
    status, headers, answer = send(
        local_cloud,
        "OPTIONS",
        "/",
        Origin=EVIL,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="content-type,x-amz-target",
    )
    assert status == 403
    assert not [name for name in headers if name.startswith("access-control-")]
    assert json.loads(answer)["__type"] == "AccessDeniedException"


def test_a_cross_origin_create_training_job_never_reaches_sagemaker(local_cloud):
    name = f"web-{uuid.uuid4().hex[:8]}"
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    status, _, _ = send(
        local_cloud,
        "POST",
        "/",
        json.dumps(request).encode(),
        Origin=EVIL,
        Content_Type="application/x-amz-json-1.1",
        X_Amz_Target="SageMaker.CreateTrainingJob",
    )
    assert status == 403
    with pytest.raises(ClientError):
        local_cloud.client("sagemaker").describe_training_job(TrainingJobName=name)


def test_a_request_another_site_made_without_origin_is_refused(local_cloud):
    # An <img src="http://127.0.0.1:.../?Action=..."> GET carries no Origin, only fetch metadata.
    status, _, answer = send(
        local_cloud,
        "GET",
        "/?Action=ListTopics",
        Sec_Fetch_Site="cross-site",
        Sec_Fetch_Mode="no-cors",
    )
    assert status == 403 and b"Sec-Fetch-Site: cross-site" in answer


def test_a_foreign_host_name_is_refused_a_loopback_one_served(local_cloud):
    status, _, answer = send(
        local_cloud, "GET", "/?Action=ListTopics", Host=f"rebound.evil.example:{local_cloud.port}"
    )
    assert status == 403 and b"Host: rebound.evil.example" in answer
    status, _, _ = send(
        local_cloud, "GET", "/?Action=ListTopics", Host=f"localhost:{local_cloud.port}"
    )
    assert status == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:4566", True),
        ("my-bucket.localhost:4566", True),
        ("127.0.0.1:4566", True),
        ("127.1.2.3", True),
        ("[::1]:4566", True),
        ("::1", True),
        ("LOCALHOST.", True),
        ("", False),
        ("evil.example", False),
        ("localhost.evil.example:4566", False),
        ("192.168.1.10:4566", False),
        ("[::ffff:c0a8:10a]:4566", False),
        ("0.0.0.0:4566", False),
    ],
)
def test_loopback_host_names(host, loopback):
    assert is_loopback_host(host) is loopback


def test_sdk_requests_pass_and_carry_no_cors_headers(local_cloud):
    client = local_cloud.client("sqs")
    response = client.list_queues()
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "access-control-allow-origin" not in response["ResponseMetadata"]["HTTPHeaders"]


def test_errors_the_gateway_answers_itself_carry_a_request_id(local_cloud):
    with pytest.raises(ClientError) as raised:
        local_cloud.client("lambda").invoke(FunctionName="no-such-function", Payload=b"{}")
    error = raised.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["RequestId"], "x-amzn-RequestId on the gateway's own answer"
    status, headers, _ = send(local_cloud, "GET", "/", Origin=EVIL)
    assert status == 403 and headers.get("x-amzn-requestid")
