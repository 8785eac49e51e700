"""plan_drift_check and judge_drift: what a drift check compares, and what it decides.

Registry, S3, the ledger and CloudWatch are moto; DescribeEndpoint goes through Stubber; the
stack bus is a recorder (EventBridge delivery is the twin's, tested end to end).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mlops_common.adapters.metrics import MetricPublisher
from mlops_common.domain.deployment import resource_name
from mlops_common.domain.drift_plan import drift_ledger_key, plan_drift_check
from mlops_common.domain.drift_verdict import DRIFT_DETECTED, judge_drift
from mlops_common.models import DriftPlan, Execution
from mlops_common.settings import DriftCheckSettings, JudgeDriftSettings

ENDPOINT = "mlops-endpoint"
NOW = datetime(2026, 3, 4, 11, 0, 0, tzinfo=UTC)
DEPLOYED_AT = datetime(2026, 3, 4, 9, 30, 0, tzinfo=UTC)
SETTINGS = DriftCheckSettings(
    endpoint_name=ENDPOINT,
    model_package_group="mlops-models",
    sagemaker_role_arn="arn:aws:iam::123456789012:role/mlops-jobs",
    training_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
    ledger_table="mlops-ledger",
    artifacts_bucket="mlops-artifacts",
    code_version="v7",
    job_name_prefix="mlops-0a1b2c3d",
)
JUDGE = JudgeDriftSettings(
    ledger_table="mlops-ledger",
    event_bus_name="mlops-bus",
    metrics_namespace="MLOps/mlops/Drift",
    drift_minimum_rows=100,
    drift_psi_threshold=0.25,
    drift_ks_threshold=0.2,
)
BASELINE = "s3://mlops-artifacts/runs/r1/evaluation/rf/baseline.json"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/1"


def execution(name: str) -> Execution:
    return Execution(Name=name, Id=f"arn:aws:states:us-east-1:123456789012:execution:drift:{name}")


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], list[str]]] = []

    def put(self, detail_type: str, detail: dict[str, Any], resources: list[str]) -> str:
        self.events.append((detail_type, detail, resources))
        return "event-1"


def capture_key(hour: datetime, name: str = "00-01-000-x.jsonl") -> str:
    return f"data-capture/{ENDPOINT}/AllTraffic/{hour:%Y/%m/%d/%H}/{name}"


def plan(world: Any, endpoints: Any, name: str = "drift-1") -> DriftPlan:
    return plan_drift_check(
        execution(name), SETTINGS, endpoints, world.registry(), world.store(), world.ledger(), NOW
    )


def live_v1(world: Any, endpoint: Any, baseline: bool = True) -> Any:
    world.create_package("Approved", lineage={"drift_baseline": BASELINE} if baseline else None)
    return endpoint.present("InService", resource_name(ENDPOINT, 1, "deploy-1"), None, DEPLOYED_AT)


def test_no_endpoint_is_not_checked(world: Any, endpoint: Any) -> None:
    result = plan(world, endpoint.absent())
    assert (result.action, result.outcome) == ("SKIP", "NOT_CHECKED")
    assert "does not exist" in result.reason


def test_a_version_without_a_baseline_is_not_checked(world: Any, endpoint: Any) -> None:
    result = plan(world, live_v1(world, endpoint, baseline=False))
    assert (result.action, result.outcome, result.version) == ("SKIP", "NOT_CHECKED", 1)
    assert "no drift baseline" in result.reason


def test_no_capture_since_the_deployment_is_too_few_rows_without_a_job(
    world: Any, endpoint: Any
) -> None:
    # Given capture files only from before the live config took over
    world.put_object("mlops-artifacts", capture_key(DEPLOYED_AT - timedelta(hours=2)), b"{}\n")
    result = plan(world, live_v1(world, endpoint))
    assert (result.action, result.outcome, result.job) == ("SKIP", "TOO_FEW_ROWS", None)
    assert result.window_start == "2026-03-04T09:30:00Z" and result.baseline_uri == BASELINE


def test_the_job_reads_the_baseline_and_the_capture_of_the_window_only(
    world: Any, endpoint: Any
) -> None:
    # Given capture of an earlier day, and two files of the window
    world.put_object("mlops-artifacts", capture_key(DEPLOYED_AT - timedelta(days=1)), b"{}\n")
    world.put_object("mlops-artifacts", capture_key(DEPLOYED_AT, "a.jsonl"), b"{}\n")
    world.put_object("mlops-artifacts", capture_key(NOW - timedelta(minutes=5), "b.jsonl"), b"{}")
    result = plan(world, live_v1(world, endpoint))
    assert (result.action, result.capture_files) == ("CHECK", 2)
    job = result.job
    assert job is not None and job["ProcessingJobName"].startswith("mlops-0a1b2c3d-drift-")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    # the narrowest prefix holding both files of the window: the day, not the endpoint
    assert inputs == {
        "code": "s3://mlops-artifacts/code/v7/src/",
        "baseline": BASELINE,
        "capture": f"s3://mlops-artifacts/data-capture/{ENDPOINT}/AllTraffic/2026/03/04/",
    }
    arguments = job["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--window-start") + 1] == "2026-03-04T09:30:00Z"
    assert arguments[arguments.index("--window-end") + 1] == "2026-03-04T11:00:00Z"
    assert result.report_uri == "s3://mlops-artifacts/drift-reports/drift-1/drift.json"
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        "s3://mlops-artifacts/drift-reports/drift-1"
    )


def test_the_window_starts_where_the_last_deciding_check_ended(world: Any, endpoint: Any) -> None:
    ledger = world.ledger()
    key = drift_ledger_key(ENDPOINT)
    ledger.append(key, {"decided": True, "window_end": "2026-03-04T10:00:00Z"}, tag="a")
    ledger.append(key, {"decided": False, "window_end": "2026-03-04T10:30:00Z"}, tag="b")
    world.put_object("mlops-artifacts", capture_key(NOW - timedelta(minutes=5)), b"{}\n")
    result = plan(world, live_v1(world, endpoint))
    # a check with too few rows decided nothing: its rows count towards this one
    assert result.window_start == "2026-03-04T10:00:00Z"


def report(rows: int, psi: dict[str, float], ks: float = 0.05) -> dict[str, Any]:
    features = {
        name: {"psi": value, "ks": ks, "missing_share": 0.0, "out_of_range_share": 0.0}
        for name, value in psi.items()
    }
    return {
        "rows": rows,
        "requests": rows // 5,
        "features": features,
        "rows_missing_share": 0.0,
        "rows_out_of_range_share": 0.1,
        "prediction": {"kind": "categorical", "psi": 0.05},
    }


def checked(world: Any, figures: dict[str, Any], name: str = "drift-2") -> DriftPlan:
    uri = f"s3://mlops-artifacts/drift-reports/{name}/drift.json"
    world.put_uri(uri, json.dumps(figures).encode())
    return DriftPlan(
        action="CHECK",
        reason="files",
        endpoint_name=ENDPOINT,
        model_package_arn=PACKAGE,
        version=1,
        baseline_uri=BASELINE,
        window_start="2026-03-04T10:00:00Z",
        window_end="2026-03-04T11:00:00Z",
        capture_files=2,
        report_uri=uri,
        job={},
    )


@pytest.fixture
def judged(world: Any, aws: Any) -> Any:
    bus = Bus()
    cloudwatch = aws.client("cloudwatch")

    def judge(drift_plan: DriftPlan, name: str = "drift-2") -> Any:
        publisher = MetricPublisher(cloudwatch, JUDGE.metrics_namespace)
        verdict = judge_drift(
            drift_plan, execution(name), JUDGE, world.store(), publisher, bus, world.ledger()
        )
        return verdict, bus.events, cloudwatch

    return judge


def test_drift_past_a_threshold_asks_for_one_retrain_of_the_latest_dataset(
    world: Any, judged: Any
) -> None:
    figures = report(300, {"mean_radius": 2.3, "mean_area": 0.4, "mean_texture": 0.02})
    verdict, events, cloudwatch = judged(checked(world, figures))
    assert verdict.outcome == "DRIFT_DETECTED"
    assert [f.feature for f in verdict.drifting] == ["mean_radius", "mean_area"]
    assert "mean_radius (PSI 2.30, KS 0.05), mean_area (PSI 0.40" in verdict.summary
    [(detail_type, detail, resources)] = events
    assert detail_type == DRIFT_DETECTED and resources == [
        checked(world, figures).model_package_arn
    ]
    retrain = detail["retrain"]
    assert retrain | {"reason": ""} == {
        "dataset": "latest",
        "reason": "",
        "requested_by": execution("drift-2").id,
        "force": True,
        "request_id": f"drift-{ENDPOINT}-v1",  # one retrain per live version
        "trigger": "drift",
    }
    assert retrain["reason"].startswith("drift report s3://mlops-artifacts/drift-reports/")
    # the figures are CloudWatch metrics of the stack's namespace
    listed = cloudwatch.list_metrics(Namespace=JUDGE.metrics_namespace)["Metrics"]
    names = {(m["MetricName"], tuple(d["Value"] for d in m["Dimensions"])) for m in listed}
    assert ("FeaturePSI", (ENDPOINT, "mean_radius")) in names
    assert ("CapturedRows", (ENDPOINT,)) in names and ("PredictionPSI", (ENDPOINT,)) in names


def test_ks_alone_past_its_threshold_is_drift(world: Any, judged: Any) -> None:
    verdict, events, _ = judged(checked(world, report(300, {"x": 0.1}, ks=0.35)))
    assert verdict.outcome == "DRIFT_DETECTED" and len(events) == 1


def test_figures_under_the_thresholds_are_no_drift_and_recorded(world: Any, judged: Any) -> None:
    verdict, events, _ = judged(checked(world, report(300, {"x": 0.1, "y": 0.2})))
    assert (verdict.outcome, events) == ("NO_DRIFT", [])
    assert verdict.summary.startswith("no drift in 300 captured rows of v1: highest y (PSI 0.20")
    [entry] = world.ledger().recent(drift_ledger_key(ENDPOINT), 5)
    assert entry["outcome"] == "NO_DRIFT" and entry["decided"] is True
    assert entry["window_end"] == "2026-03-04T11:00:00Z" and entry["execution"] == "drift-2"


def test_too_few_rows_decide_nothing_even_with_drifted_figures(world: Any, judged: Any) -> None:
    verdict, events, _ = judged(checked(world, report(40, {"x": 3.0})))
    assert (verdict.outcome, events) == ("TOO_FEW_ROWS", [])
    assert "only 40 captured rows" in verdict.summary
    [entry] = world.ledger().recent(drift_ledger_key(ENDPOINT), 5)
    assert entry["decided"] is False


def test_a_skipped_plan_is_recorded_with_its_reason(world: Any, judged: Any) -> None:
    skipped = DriftPlan(
        action="SKIP",
        outcome="NOT_CHECKED",
        reason="mlops-endpoint does not exist: no live model to check",
        endpoint_name=ENDPOINT,
        window_start="2026-03-04T11:00:00Z",
        window_end="2026-03-04T11:00:00Z",
    )
    verdict, events, _ = judged(skipped)
    assert (verdict.outcome, verdict.summary, events) == ("NOT_CHECKED", skipped.reason, [])
    [entry] = world.ledger().recent(drift_ledger_key(ENDPOINT), 5)
    assert entry["outcome"] == "NOT_CHECKED"
