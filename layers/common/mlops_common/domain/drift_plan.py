"""Planning a drift check: which version serves, its baseline, and the captured traffic to
compare with it (README "Drift detection").

The window of captured requests starts where the last check that DECIDED ended (enough rows to
say drift or no drift), or when the live configuration took over (the endpoint's
LastModifiedTime), whichever is later: a quiet hour decides nothing, so its rows count towards
the next check, and traffic served by an earlier version never counts against this one.

Capture files live at `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/...jsonl`
(SageMaker developer guide, "Capture data from real-time endpoint"): files of hours before the
window are left out by their key; ml/drift.py keeps the records whose inferenceTime is inside.
SageMaker Processing fails an S3Prefix input that matches no object, so a window without any
capture file ends here with TOO_FEW_ROWS, without a job.
"""

import hashlib
import os
from datetime import datetime
from typing import Any

from ..adapters.endpoints import Endpoints
from ..adapters.ledger import Ledger
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store, split_s3_uri
from ..models import DriftPlan, Execution
from ..settings import DriftCheckSettings
from ..timestamps import parse_timestamp
from .deployment import live_package_version
from .training import PROCESSING_DIR, processing_input, processing_resources

BASELINE_PROPERTY = "drift_baseline"
REPORT_FILENAME = "drift.json"
#: How many recent checks are read to find the last that decided.
RECENT_CHECKS = 50


def drift_ledger_key(endpoint_name: str) -> str:
    """Every drift check of an endpoint is an audit entry under this key (`mlops drift`)."""
    return f"drift#{endpoint_name}"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def last_decided_end(ledger: Ledger, endpoint_name: str) -> datetime | None:
    for entry in ledger.recent(drift_ledger_key(endpoint_name), RECENT_CHECKS):
        if entry.get("decided"):
            return parse_timestamp(entry.get("window_end"))
    return None


def _hour_of(key: str, root: str) -> str | None:
    """'yyyy/mm/dd/hh' of a capture file key under `root`, None for anything else."""
    parts = key[len(root) :].split("/")
    if len(parts) != 5 or not all(p.isdigit() for p in parts[:4]):
        return None
    return "/".join(parts[:4])


def plan_drift_check(
    execution: Execution,
    settings: DriftCheckSettings,
    endpoints: Endpoints,
    registry: ModelRegistry,
    store: S3Store,
    ledger: Ledger,
    now: datetime,
) -> DriftPlan:
    name = settings.endpoint_name
    base: dict[str, Any] = {"endpoint_name": name, "window_end": _iso(now)}

    def skip(outcome: str, reason: str, start: datetime = now, **more: Any) -> DriftPlan:
        return DriftPlan(
            action="SKIP", outcome=outcome, reason=reason, window_start=_iso(start), **base, **more
        )

    endpoint = endpoints.describe(name)
    if endpoint is None:
        return skip("NOT_CHECKED", f"{name} does not exist: no live model to check")
    if endpoint["EndpointStatus"] != "InService":
        return skip(
            "NOT_CHECKED", f"{name} is {endpoint['EndpointStatus']}; checked when InService"
        )
    version = live_package_version(endpoints, endpoint)
    package = next(
        (
            registry.describe(p["ModelPackageArn"])
            for p in registry.approved_packages()
            if p.get("ModelPackageVersion") == version
        ),
        None,
    )
    if package is None:
        return skip("NOT_CHECKED", f"the live version v{version} is not an approved version")
    arn = package["ModelPackageArn"]
    baseline_uri = (package.get("CustomerMetadataProperties") or {}).get(BASELINE_PROPERTY)
    if not baseline_uri:
        return skip(
            "NOT_CHECKED",
            f"v{version} has no drift baseline ({BASELINE_PROPERTY}): its training code wrote none",
            model_package_arn=arn,
            version=version,
        )
    starts = [parse_timestamp(endpoint.get("LastModifiedTime")), last_decided_end(ledger, name)]
    start = max((s for s in starts if s is not None), default=now)
    bucket, root = split_s3_uri(f"{settings.data_capture_uri}/{name}/{settings.variant_name}/")
    first_hour = f"{start:%Y/%m/%d/%H}"
    keys = [k for k in store.list_keys(bucket, root) if (_hour_of(k, root) or "") >= first_hour]
    found = {"model_package_arn": arn, "version": version, "baseline_uri": baseline_uri}
    if not keys:
        return skip(
            "TOO_FEW_ROWS", f"no request to v{version} captured since {_iso(start)}", start, **found
        )
    # The narrowest prefix holding every file of the window (SageMaker reads an S3Prefix input
    # as a key prefix); files of earlier hours under it are dropped by inferenceTime.
    common = os.path.commonprefix(keys)
    capture_uri = f"s3://{bucket}/{common[: common.rfind('/') + 1]}"
    report_prefix = f"s3://{settings.artifacts_bucket}/drift-reports/{execution.name}"
    job = _job_request(execution, settings, baseline_uri, capture_uri, report_prefix, start, now)
    return DriftPlan(
        action="CHECK",
        reason=f"{len(keys)} capture file(s) of v{version} since {_iso(start)}",
        window_start=_iso(start),
        capture_files=len(keys),
        report_uri=f"{report_prefix}/{REPORT_FILENAME}",
        job=job,
        **found,
        **base,
    )


def _job_request(
    execution: Execution,
    settings: DriftCheckSettings,
    baseline_uri: str,
    capture_uri: str,
    report_prefix: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    base = PROCESSING_DIR
    digest = hashlib.sha256(execution.name.encode()).hexdigest()[:12]
    s3_input = processing_input

    return {
        "ProcessingJobName": f"{settings.job_name_prefix}-drift-{digest}",
        "RoleArn": settings.sagemaker_role_arn,
        "AppSpecification": {
            "ImageUri": settings.training_image_uri,
            "ContainerEntrypoint": ["python3", f"{base}/input/code/drift.py"],
            "ContainerArguments": [
                "--baseline-dir",
                f"{base}/input/baseline",
                "--capture-dir",
                f"{base}/input/capture",
                "--output-dir",
                f"{base}/report",
                "--window-start",
                _iso(start),
                "--window-end",
                _iso(end),
            ],  # fmt: skip
        },
        "ProcessingInputs": [
            s3_input("code", settings.source_files_uri, f"{base}/input/code"),
            s3_input("baseline", baseline_uri, f"{base}/input/baseline"),
            s3_input("capture", capture_uri, f"{base}/input/capture"),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": report_prefix,
                        "LocalPath": f"{base}/report",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": processing_resources(settings.processing_instance_type),
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
        "Tags": [{"Key": "mlops:execution", "Value": execution.name}],
    }
