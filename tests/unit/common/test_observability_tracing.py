"""The X-Ray SDK is loaded at cold start only when tracing is on, and a handler behaves the same
either way. Each case is a fresh interpreter: the SDK patches botocore process-wide when on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[3] / "layers" / "common"
PROBE = """
import json, sys
from mlops_common.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return {"doubled": event["n"] * 2}

print(json.dumps({
    "xray_loaded": "aws_xray_sdk.core" in sys.modules,
    "disabled": bool(tracer.disabled),
    "provider": type(tracer.provider).__name__,
    "result": handler({"n": 21}, None),
}))
"""
LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "fn"}


def cold_start(**variables: str) -> dict:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(LAYER),
        "POWERTOOLS_SERVICE_NAME": "probe",
        # Tracing on outside a segment: the X-Ray SDK logs instead of raising.
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        **variables,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "variables",
    [LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "true"}, {}],
    ids=["disabled-by-variable", "outside-lambda"],
)
def test_tracing_off_never_loads_the_xray_sdk(variables: dict[str, str]) -> None:
    probe = cold_start(**variables)
    assert probe == {
        "xray_loaded": False,
        "disabled": True,
        "provider": "Untraced",
        "result": {"doubled": 42},
    }


def test_tracing_on_in_lambda_traces_with_the_xray_recorder() -> None:
    probe = cold_start(**LAMBDA)
    assert probe["xray_loaded"] and not probe["disabled"]
    assert probe["provider"] == "AsyncAWSXRayRecorder"
    assert probe["result"] == {"doubled": 42}
