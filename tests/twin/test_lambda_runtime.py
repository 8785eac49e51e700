"""The twin's Lambda seam runs real handlers in warm worker processes, as AWS Lambda does."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops.twin.lambda_ import worker
from mlops.twin.lambda_.function import FunctionSpec, InvalidRequestContent, InvocationResult
from mlops.twin.lambda_.runtime import LambdaRuntime

pytestmark = pytest.mark.twin

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
BASE_ENV = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def spec(
    name: str,
    handler: str,
    *,
    timeout_s: int = 30,
    memory_mb: int = 512,
    environment: dict[str, str] | None = None,
    code: str = "lambda_app",
) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        arn=f"{ACCOUNT_ARN}:{name}",
        code_dir=FIXTURES / code,
        handler=handler,
        environment=environment or {},
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        layer_dirs=(FIXTURES / "lambda_layer",),
    )


class SinkRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.received = threading.Event()

    def __call__(self, function_name: str, lines: list[str]) -> None:
        self.calls.append((function_name, lines))
        self.received.set()


@pytest.fixture
def sink() -> SinkRecorder:
    return SinkRecorder()


@pytest.fixture
def runtime(sink: SinkRecorder) -> Iterator[LambdaRuntime]:
    lambda_runtime = LambdaRuntime(BASE_ENV, log_sink=sink)
    yield lambda_runtime
    lambda_runtime.uninstall()


def body(result: InvocationResult) -> dict:
    return json.loads(result.payload)


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Polls a condition another process makes true; the caller asserts the outcome."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def test_handler_result_is_returned_with_a_real_shaped_context(runtime: LambdaRuntime) -> None:
    runtime.register(spec("echo", "app.echo", timeout_s=30, memory_mb=256))

    result = runtime.invoke("echo", b'{"dataset": "s3://bucket/data.csv"}')

    assert result.status_code == 200
    assert result.function_error is None
    payload = body(result)
    assert payload["event"] == {"dataset": "s3://bucket/data.csv"}
    assert payload["layer"] == "twin-test-layer"
    context = payload["context"]
    assert context["function_name"] == "echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"{ACCOUNT_ARN}:echo"
    assert context["memory_limit_in_mb"] == "256"  # a string, as in the AWS runtime
    assert context["aws_request_id"] == result.request_id
    assert context["log_group_name"] == "/aws/lambda/echo"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 30_000


def test_env_from_spec_is_visible_and_reserved_variables_win(
    runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_HOST_ONLY_CANARY", "must-not-leak")
    runtime.register(
        spec(
            "env",
            "app.echo",
            memory_mb=256,
            environment={
                "DATASET_BUCKET": "datasets",
                "AWS_LAMBDA_FUNCTION_NAME": "spoofed",
                "AWS_ACCESS_KEY_ID": "spoofed",
                "POWERTOOLS_SERVICE_NAME": "trainer",
            },
        )
    )

    env = body(runtime.invoke(f"{ACCOUNT_ARN}:env", b"{}"))["env"]

    assert env["DATASET_BUCKET"] == "datasets"
    assert env["POWERTOOLS_SERVICE_NAME"] == "trainer"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.echo"
    assert env["TZ"] == ":UTC"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES / "lambda_app")
    assert env["PYTHONPATH"].split(os.pathsep) == [
        str(FIXTURES / "lambda_app"),
        str(FIXTURES / "lambda_layer"),
    ]
    assert "TWIN_HOST_ONLY_CANARY" not in env


def test_cold_then_warm_reuses_the_worker(runtime: LambdaRuntime) -> None:
    runtime.register(spec("warm", "app.echo"))

    first = runtime.invoke("warm", b"{}")
    second = runtime.invoke("warm", b"{}")

    assert body(first)["pid"] == body(second)["pid"]
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert second.init_duration_ms is None
    assert "Init Duration:" in first.log_tail and "Init Duration:" not in second.log_tail
    stats = runtime.stats()["warm"]
    assert stats["cold_starts"] == 1 and stats["warm_invocations"] == 1
    assert len(stats["init_ms"]) == 1 and len(stats["cold_ms"]) == 1
    assert len(stats["warm_ms"]) == 1


def test_concurrent_invocations_use_separate_workers(
    runtime: LambdaRuntime, tmp_path: Path
) -> None:
    runtime.register(spec("fanout", "app.rendezvous"))
    event = json.dumps({"directory": str(tmp_path), "expected": 3, "within_s": 20}).encode()
    results: list[InvocationResult] = []

    def call() -> None:
        results.append(runtime.invoke("fanout", event))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Each handler returns only once all three are inside it at the same time, which one
    # serialised worker could never achieve.
    assert [r.function_error for r in results] == [None, None, None]
    assert len({body(r)["pid"] for r in results}) == 3
    assert runtime.stats()["fanout"]["cold_starts"] == 3


def test_custom_exception_class_is_the_error_type(runtime: LambdaRuntime) -> None:
    runtime.register(spec("validate", "app.invalid"))

    result = runtime.invoke("validate", b'{"key": "data.csv"}')
    after = runtime.invoke("validate", b'{"key": "again.csv"}')

    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == "DatasetInvalid"
    assert error["errorMessage"] == "column malignant missing in data.csv"
    assert error["requestId"] == result.request_id
    assert any("in invalid" in frame for frame in error["stackTrace"])
    runtime_file = worker.__file__  # the runtime's own frames are dropped, as awslambdaric does
    assert not any(runtime_file in frame for frame in error["stackTrace"])
    assert "[ERROR] DatasetInvalid: column malignant missing in data.csv" in result.log_tail
    assert after.init_duration_ms is None  # a handler error keeps the environment warm


def test_unserialisable_result_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    runtime.register(spec("sets", "app.unserialisable"))

    result = runtime.invoke("sets", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.MarshalError"
    assert "not JSON serializable" in body(result)["errorMessage"]


@needs_proc
def test_timeout_kills_the_worker_reports_sandbox_timedout_and_next_invoke_is_cold(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(spec("slow", "app.sleepy", timeout_s=1))
    warm_pid = body(runtime.invoke("slow", b'{"seconds": 0}'))["pid"]

    timed_out = runtime.invoke("slow", b'{"seconds": 120}')
    recovered = runtime.invoke("slow", b'{"seconds": 0}')

    assert timed_out.function_error == "Unhandled"
    assert body(timed_out) == {
        "errorMessage": f"RequestId: {timed_out.request_id} Error: "
        "Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert "going to sleep" in timed_out.log_tail
    assert f"{timed_out.request_id} Task timed out after 1.00 seconds" in timed_out.log_tail
    assert "Status: timeout" in timed_out.log_tail
    assert not is_running(warm_pid)
    assert recovered.function_error is None
    assert recovered.init_duration_ms is not None
    assert body(recovered)["pid"] != warm_pid


def test_worker_exit_is_a_runtime_exit_error(runtime: LambdaRuntime) -> None:
    runtime.register(spec("quitter", "app.exits"))

    result = runtime.invoke("quitter", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
        "exit status 3",
        "errorType": "Runtime.ExitError",
    }
    assert "about to exit" in result.log_tail


def test_memory_over_the_limit_is_out_of_memory(runtime: LambdaRuntime) -> None:
    runtime.register(spec("hog", "app.hog", memory_mb=128))

    result = runtime.invoke("hog", b'{"mb": 256}')

    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.OutOfMemory"
    report = next(line for line in result.log_tail.splitlines() if line.startswith("REPORT"))
    used_mb = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used_mb > 256


def test_import_failure_is_reported_as_import_module_error(runtime: LambdaRuntime) -> None:
    runtime.register(spec("broken", "app.handler", code="lambda_broken"))

    result = runtime.invoke("broken", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in body(result)["errorMessage"]


def test_print_output_is_in_the_log_tail_and_the_sink(
    runtime: LambdaRuntime, sink: SinkRecorder
) -> None:
    runtime.register(spec("chatty", "app.chatty"))

    result = runtime.invoke("chatty", b"{}")

    assert body(result)["pid"] > 0  # the prints did not corrupt the worker protocol
    ((name, lines),) = sink.calls
    assert name == "chatty"
    rid = result.request_id
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    end = lines.index(f"END RequestId: {rid}")
    assert lines.index("init: module imported") < start  # the INIT phase comes first
    assert lines[start + 1 : end] == [
        "hello from the handler",
        "to stderr",
        "no newline at the end",
    ]
    assert lines[end + 1].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "Max Memory Used: " in lines[end + 1]
    for line in ("hello from the handler", "to stderr", f"END RequestId: {rid}"):
        assert line in result.log_tail


def test_powertools_logger_tracer_and_metrics_work_in_the_worker(runtime: LambdaRuntime) -> None:
    runtime.register(spec("powertools", "powertools_app.handler"))

    result = runtime.invoke("powertools", b"{}")

    assert result.function_error is None, result.payload
    assert body(result) == {"ok": True}
    records = [json.loads(line) for line in result.log_tail.splitlines() if line.startswith("{")]
    log = next(r for r in records if r.get("message") == "powertools says hi")
    assert log["function_request_id"] == result.request_id
    assert log["function_name"] == "powertools" and log["cold_start"] is True
    assert any("_aws" in r and r["Invocations"] == [1.0] for r in records)  # EMF on stdout


def test_event_invocation_returns_202_at_once_and_logs_to_the_sink(
    runtime: LambdaRuntime, sink: SinkRecorder
) -> None:
    runtime.register(spec("async", "app.invalid"))

    result = runtime.invoke("async", b'{"key": "k"}', invocation_type="Event")

    assert result.status_code == 202
    assert result.payload == b"" and result.function_error is None
    assert sink.received.wait(timeout=60)
    ((name, lines),) = sink.calls
    assert name == "async"
    assert "[ERROR] DatasetInvalid: column malignant missing in k" in lines


def test_dry_run_returns_204_without_running(runtime: LambdaRuntime) -> None:
    runtime.register(spec("dry", "app.echo"))

    result = runtime.invoke("dry", b"{}", invocation_type="DryRun")

    assert result.status_code == 204
    assert runtime.stats()["dry"]["cold_starts"] == 0


def test_unknown_function_raises_lookup_error(runtime: LambdaRuntime) -> None:
    runtime.register(spec("known", "app.echo"))

    assert runtime.has("known") and runtime.has(f"{ACCOUNT_ARN}:known:$LATEST")
    assert not runtime.has("unknown")
    with pytest.raises(LookupError):
        runtime.invoke("unknown", b"{}")
    with pytest.raises(LookupError):
        runtime.invoke(f"{ACCOUNT_ARN}:unknown", b"{}", invocation_type="Event")


def test_payload_that_is_not_json_is_rejected(runtime: LambdaRuntime) -> None:
    runtime.register(spec("strict", "app.echo"))

    with pytest.raises(InvalidRequestContent):
        runtime.invoke("strict", b"not json")
    assert body(runtime.invoke("strict", b""))["event"] == {}


@needs_proc
def test_reregister_retires_warm_workers(runtime: LambdaRuntime) -> None:
    runtime.register(spec("evolving", "app.echo", environment={"MODEL_VERSION": "1"}))
    before = body(runtime.invoke("evolving", b"{}"))

    runtime.register(spec("evolving", "app.echo", environment={"MODEL_VERSION": "2"}))
    after = runtime.invoke("evolving", b"{}")

    assert not is_running(before["pid"])
    assert body(after)["pid"] != before["pid"]
    assert body(after)["env"]["MODEL_VERSION"] == "2"
    assert after.init_duration_ms is not None


@needs_proc
def test_idle_workers_are_retired_after_the_idle_timeout(sink: SinkRecorder) -> None:
    lambda_runtime = LambdaRuntime(BASE_ENV, log_sink=sink, idle_timeout_s=0.0)
    try:
        lambda_runtime.register(spec("idle", "app.echo"))
        first = lambda_runtime.invoke("idle", b"{}")
        retired = wait_until(lambda: not is_running(body(first)["pid"]))
        second = lambda_runtime.invoke("idle", b"{}")
    finally:
        lambda_runtime.uninstall()

    assert retired
    assert second.init_duration_ms is not None
    assert lambda_runtime.stats()["idle"]["cold_starts"] == 2


@needs_proc
def test_uninstall_leaves_no_child_processes(sink: SinkRecorder, tmp_path: Path) -> None:
    lambda_runtime = LambdaRuntime(BASE_ENV, log_sink=sink)
    lambda_runtime.register(spec("spawner", "app.spawns"))
    lambda_runtime.register(spec("blocker", "app.blocks"))
    spawned = body(lambda_runtime.invoke("spawner", b"{}"))
    pid_file = tmp_path / "blocker.pid"
    event = json.dumps({"pid_file": str(pid_file), "seconds": 120}).encode()
    busy_results: list[InvocationResult] = []
    busy = threading.Thread(
        target=lambda: busy_results.append(lambda_runtime.invoke("blocker", event))
    )
    busy.start()
    assert wait_until(pid_file.exists)
    busy_pid = int(pid_file.read_text())

    lambda_runtime.uninstall()
    busy.join()

    # Workers are reaped by uninstall(); a handler's own subprocess (killed with the worker's
    # process group) is reaped by init, so that one may take a moment to disappear.
    assert not is_running(spawned["pid"]) and not is_running(busy_pid)
    assert wait_until(lambda: not is_running(spawned["child_pid"]))
    (interrupted,) = busy_results
    assert body(interrupted)["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in body(interrupted)["errorMessage"]
    with pytest.raises(RuntimeError):
        lambda_runtime.invoke("spawner", b"{}")
