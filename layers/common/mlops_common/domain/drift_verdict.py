"""Judging a drift check: the figures as CloudWatch metrics, the verdict against the stack's
thresholds, a `Model Drift Detected` event on the stack bus when it drifted, and an audit entry
for every check, whatever it found (README "Drift detection").

A feature drifts when its PSI is above DriftPsiThreshold or its KS statistic above
DriftKsThreshold; nothing is decided with fewer than DriftMinimumRows captured rows. The event
carries the retrain request (design decision D1) the stack's rule turns into a TrainingPipeline
input: "latest" dataset, forced, the drift report as the reason, trigger "drift". Its request
id names the live version, so while that version serves, repeated drift asks for ONE retrain:
the TrainingPipeline recognises the replayed request id and ends AlreadyHandled.
"""

from typing import Any

from ..adapters.bus import EventBus
from ..adapters.ledger import Ledger
from ..adapters.metrics import MetricPublisher
from ..adapters.s3 import S3Store
from ..models import DriftingFeature, DriftPlan, DriftVerdict, Execution
from ..settings import JudgeDriftSettings
from .drift_plan import drift_ledger_key

DRIFT_DETECTED = "Model Drift Detected"
TOP_FEATURES = 3


def _figures(features: dict[str, Any]) -> list[DriftingFeature]:
    """Every feature's figures, the most drifted first (PSI, then KS)."""
    found = [DriftingFeature(feature=n, psi=f["psi"], ks=f["ks"]) for n, f in features.items()]
    return sorted(found, key=lambda f: (-f.psi, -f.ks, f.feature))


def _named(features: list[DriftingFeature]) -> str:
    return ", ".join(f"{f.feature} (PSI {f.psi:.2f}, KS {f.ks:.2f})" for f in features)


def metric_data(endpoint: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's figures: per feature PSI and KS, and the endpoint-wide ones."""
    dims = [{"Name": "EndpointName", "Value": endpoint}]
    data: list[dict[str, Any]] = []
    for name, figures in report["features"].items():
        feature = [*dims, {"Name": "Feature", "Value": name}]
        data.append({"MetricName": "FeaturePSI", "Dimensions": feature, "Value": figures["psi"]})
        data.append({"MetricName": "FeatureKS", "Dimensions": feature, "Value": figures["ks"]})
    features = report["features"].values()
    overall = {
        "CapturedRows": report["rows"],
        "MaxPSI": max((f["psi"] for f in features), default=0.0),
        "MaxKS": max((f["ks"] for f in features), default=0.0),
        "RowsOutOfRangeShare": report["rows_out_of_range_share"],
        "RowsMissingShare": report["rows_missing_share"],
        "PredictionPSI": (report.get("prediction") or {}).get("psi"),
    }
    for name, value in overall.items():
        if value is not None:
            unit = "Count" if name == "CapturedRows" else "None"
            data.append({"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit})
    return data


def judge_drift(
    plan: DriftPlan,
    execution: Execution,
    settings: JudgeDriftSettings,
    store: S3Store,
    publisher: MetricPublisher,
    bus: EventBus,
    ledger: Ledger,
) -> DriftVerdict:
    common = {"endpoint_name": plan.endpoint_name, "version": plan.version}
    if plan.action == "SKIP":
        verdict = DriftVerdict(outcome=plan.outcome or "NOT_CHECKED", summary=plan.reason, **common)
        _record(plan, execution, verdict, ledger)
        return verdict
    assert plan.report_uri is not None
    report = store.read_json(plan.report_uri)
    publisher.publish(metric_data(plan.endpoint_name, report))
    ranked = _figures(report["features"])
    drifting = [
        f
        for f in ranked
        if f.psi > settings.drift_psi_threshold or f.ks > settings.drift_ks_threshold
    ]
    rows = int(report["rows"])
    facts = {
        "rows": rows,
        "report_uri": plan.report_uri,
        "max_psi": max((f.psi for f in ranked), default=None),
        "max_ks": max((f.ks for f in ranked), default=None),
        **common,
    }
    if rows < settings.drift_minimum_rows:
        summary = (
            f"only {rows} captured rows of v{plan.version} since {plan.window_start} (at least "
            f"{settings.drift_minimum_rows} decide): nothing decided, they count towards the "
            "next check"
        )
        verdict = DriftVerdict(outcome="TOO_FEW_ROWS", summary=summary, **facts)
    elif not drifting:
        summary = (
            f"no drift in {rows} captured rows of v{plan.version}: highest "
            f"{_named(ranked[:1]) or 'none'} (thresholds PSI {settings.drift_psi_threshold}, "
            f"KS {settings.drift_ks_threshold})"
        )
        verdict = DriftVerdict(outcome="NO_DRIFT", summary=summary, **facts)
    else:
        request_id = f"drift-{plan.endpoint_name}-v{plan.version}"[:128]
        top = drifting[:TOP_FEATURES]
        summary = (
            f"drift in {rows} captured rows of v{plan.version}: {len(drifting)} feature(s) past "
            f"the thresholds, most {_named(top)}; retraining on the latest dataset"
        )
        verdict = DriftVerdict(
            outcome="DRIFT_DETECTED",
            summary=summary,
            drifting=drifting,
            retrain_request_id=request_id,
            **facts,
        )
        detail = _event_detail(plan, execution, verdict, top)
        arn = plan.model_package_arn
        bus.put(DRIFT_DETECTED, detail, [arn] if arn else [])
    _record(plan, execution, verdict, ledger)
    return verdict


def _event_detail(
    plan: DriftPlan, execution: Execution, verdict: DriftVerdict, top: list[DriftingFeature]
) -> dict[str, Any]:
    # The report first: the lineage keeps 256 characters of the reason (domain.lineage).
    reason = (
        f"drift report {plan.report_uri}: {_named(top)} over {verdict.rows} rows of "
        f"{plan.endpoint_name} v{plan.version}, found by {execution.name}"
    )
    return {
        "endpoint_name": plan.endpoint_name,
        "model_package_arn": plan.model_package_arn,
        "version": plan.version,
        "report_uri": plan.report_uri,
        "rows": verdict.rows,
        "top_features": [f.model_dump() for f in top],
        "retrain": {
            "dataset": "latest",
            "reason": reason[:1024],
            "requested_by": execution.id[:256],
            "force": True,
            "request_id": verdict.retrain_request_id,
            "trigger": "drift",
        },
    }


def _record(plan: DriftPlan, execution: Execution, verdict: DriftVerdict, ledger: Ledger) -> None:
    entry = {
        "execution": execution.name,
        "execution_arn": execution.id,
        "window_start": plan.window_start,
        "window_end": plan.window_end,
        "decided": verdict.outcome in ("DRIFT_DETECTED", "NO_DRIFT"),
        **verdict.model_dump(mode="json", exclude_none=True),
    }
    ledger.append(drift_ledger_key(plan.endpoint_name), entry, tag=execution.name)
