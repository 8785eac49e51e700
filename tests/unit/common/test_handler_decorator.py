"""mlops_common.handler: the decorator every function's handler wears.

Each test cold-starts the layer (a fresh Logger on the captured stdout) and decorates a task of
its own, so the decorator is proven apart from any domain code.
"""

import importlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from mlops_common.errors import DatasetInvalid
from mlops_common.models import ExecutionInput, FunctionInput, Payload
from pydantic import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


class Ping(ExecutionInput):
    value: int


class Pong(Payload):
    value: int
    at: datetime


class NoCorrelation(FunctionInput):
    value: int


def event(name: str = "run-a", value: Any = 1) -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:train:{name}"
    return {"execution": {"Name": name, "Id": arn}, "value": value}


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch, cold_start: Any) -> Any:
    """layer() -> the handler module after a cold start with the template's Globals. Call it
    in the test: the logger writes to the sys.stdout of its cold start, which capsys captures
    during the test, not while fixtures are set up."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "mlops-control-plane")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "MlopsControlPlane")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    def start() -> Any:
        cold_start()
        return importlib.import_module("mlops_common.handler")

    return start


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_output_is_the_models_json_and_logs_carry_the_execution_name(
    layer: Any, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    mlops_handler = layer()
    from mlops_common.observability import logger

    @mlops_handler.handler(model=Ping)
    def task(request: Ping, context: Any) -> Pong:
        logger.info("pinged", extra={"value": request.value})
        return Pong(value=request.value + 1, at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))

    output = task(event("run-a", 41), lambda_context)
    assert output == {"value": 42, "at": "2026-03-02T10:00:00Z"}
    [line] = printed(capsys)
    assert (line["message"], line["value"], line["correlation_id"]) == ("pinged", 41, "run-a")
    assert line["function_request_id"] == lambda_context.aws_request_id


def test_no_log_key_of_a_previous_invocation_survives(
    layer: Any, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    mlops_handler = layer()
    from mlops_common.observability import logger

    @mlops_handler.handler(model=Ping)
    def task(request: Ping, context: Any) -> Pong:
        if request.value == 1:
            logger.append_keys(first_only="leaks if state is kept")
        logger.info("pinged")
        return Pong(value=request.value, at=datetime.now(UTC))

    task(event("run-a", 1), lambda_context)
    task(event("run-b", 2), lambda_context)
    first, second = printed(capsys)
    assert (first["correlation_id"], first["first_only"]) == ("run-a", "leaks if state is kept")
    assert second["correlation_id"] == "run-b"
    assert "first_only" not in second
    assert (first["cold_start"], second["cold_start"]) == (True, False)


def test_domain_error_propagates_unchanged_for_lambda_to_report_its_class_name(
    layer: Any, lambda_context: Any
) -> None:
    mlops_handler = layer()
    raised = DatasetInvalid("no label column 'malignant'")

    @mlops_handler.handler(model=Ping)
    def task(request: Ping, context: Any) -> Pong:
        raise raised

    with pytest.raises(DatasetInvalid) as excinfo:
        task(event(), lambda_context)
    assert excinfo.value is raised


def test_event_that_does_not_fit_the_model_is_refused_before_the_task_runs(
    layer: Any, lambda_context: Any
) -> None:
    mlops_handler = layer()
    calls = []

    @mlops_handler.handler(model=Ping)
    def task(request: Ping, context: Any) -> Pong:
        calls.append(request)
        return Pong(value=0, at=datetime.now(UTC))

    with pytest.raises(ValidationError) as excinfo:
        task(event(value="not a number"), lambda_context)
    assert [error["loc"] for error in excinfo.value.errors()] == [("value",)]
    assert calls == []


def test_metrics_are_flushed_when_the_task_fails(
    layer: Any, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    mlops_handler = layer()
    from aws_lambda_powertools.metrics import MetricUnit
    from mlops_common.observability import metrics

    @mlops_handler.handler(model=Ping)
    def task(request: Ping, context: Any) -> Pong:
        metrics.add_metric(name="Attempts", unit=MetricUnit.Count, value=1)
        raise DatasetInvalid("too few rows")

    with pytest.raises(DatasetInvalid):
        task(event(), lambda_context)
    [emf] = [line for line in printed(capsys) if "_aws" in line]
    assert emf["Attempts"] == [1.0]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MlopsControlPlane"


def test_input_model_that_does_not_name_its_correlation_id_cannot_be_parsed(
    layer: Any, lambda_context: Any
) -> None:
    mlops_handler = layer()

    @mlops_handler.handler(model=NoCorrelation)
    def task(request: NoCorrelation, context: Any) -> Pong:
        return Pong(value=request.value, at=datetime.now(UTC))

    with pytest.raises(TypeError, match="abstract"):
        task({"value": 1}, lambda_context)
