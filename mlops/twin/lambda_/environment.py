"""The environment a Lambda function's worker process starts with: the variables the Lambda
service sets (Lambda developer guide, "Defined runtime environment variables"), the function's
own Environment, and nothing of the twin's process."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from mlops.twin.lambda_.function import FunctionSpec

# Keys the Lambda service sets itself; a function's Environment cannot override them.
_RESERVED_FROM_BASE = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def worker_environment(spec: FunctionSpec, base_env: dict[str, str]) -> dict[str, str]:
    """A fresh Lambda-shaped environment: nothing leaks in from this process's os.environ."""
    region = base_env.get("AWS_REGION") or base_env.get("AWS_DEFAULT_REGION") or "us-east-1"
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    env = {
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "LANG": "C.UTF-8",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon in the twin
        # Keep the developer's ~/.aws config and credentials out of the sandbox.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.update(base_env)
    env.update(spec.environment)
    env.update({key: base_env[key] for key in _RESERVED_FROM_BASE if key in base_env})
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", region),
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{today}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            # Like /var/task then /opt/python; the interpreter's site-packages follow via `site`.
            "PYTHONPATH": os.pathsep.join(str(p) for p in (spec.code_dir, *spec.layer_dirs)),
            "PYTHONUNBUFFERED": "1",  # prints reach the log before a timeout kills the worker
        }
    )
    return env
