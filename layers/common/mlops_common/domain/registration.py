"""Registering the winning candidate in the Model Registry, with its lineage.

Runs that overlap (a burst of uploads, retrains) must not all register against a champion that
has meanwhile changed. So registration takes the registry's turn, a ledger lock
`lock#registry#<ModelPackageGroupName>` (the endpoint lock's mechanism, domain.endpoint_lock:
free when released or when its holder is no longer RUNNING), and under it:

1. finds the package its own execution created, if any (MetadataProperties.GeneratedBy): a
   retried invocation (its worker crashed after CreateModelPackage) returns that package and
   never registers twice;
2. reads the champion again (domain.champion); if it is not the one the candidate's evaluation
   scored, raises ChampionChanged, registering nothing: the workflow evaluates the candidates
   again against the new champion and gates again;
3. creates the package, then releases the turn.

The turn is held for those calls only (the artifacts are hashed before it is taken).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..adapters.executions import Executions
from ..adapters.ledger import Ledger
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..errors import ChampionChanged, RegistryBusy
from ..models import Champion, Execution, RegisterModelOutput, RunContext, Selection
from ..settings import RegisterModelSettings
from .champion import champion
from .endpoint_lock import take_lock
from .feature_schema import record as schema_record
from .lineage import run_lineage
from .provenance import record_provenance
from .spot import time_figures

CONTENT_TYPES = ["text/csv", "application/json"]
#: How long registration waits for the registry's turn (each holder keeps it for seconds).
TURN_WAIT_SECONDS = 120.0


def registry_lock_key(group: str) -> str:
    return f"lock#registry#{group}"


@contextmanager
def registry_turn(
    group: str,
    execution: Execution,
    ledger: Ledger,
    executions: Executions,
    wait_seconds: float = TURN_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Holds the registry's turn for the body; RegistryBusy if no turn came in time."""
    key = registry_lock_key(group)
    deadline = time.monotonic() + wait_seconds
    while True:
        acquired, _, why = take_lock(key, "the registry", execution, "training", ledger, executions)
        if acquired:
            break
        if time.monotonic() >= deadline:
            raise RegistryBusy(f"no turn on the model registry in {wait_seconds:.0f} s: {why}")
        sleep(0.5)
    try:
        yield
    finally:
        ledger.release_lock(key, execution.id)


def register_model(
    run: RunContext,
    selection: Selection,
    settings: RegisterModelSettings,
    registry: ModelRegistry,
    store: S3Store,
    ledger: Ledger,
    executions: Executions,
    execution: Execution | None = None,
) -> RegisterModelOutput:
    best = selection.best
    assert best.model_data_url and best.report_uri
    execution = execution or Execution(Name=run.run_id, Id=run.execution_arn)
    settings = settings.at(run.code_version)  # the code the run trained with serves it
    # Checked before every deployment of the package (domain.provenance).
    pinned = record_provenance(best.model_data_url, settings.sourcedir_uri, store)
    # The feature schema (names, order, types) the evaluation wrote beside the quality report,
    # pinned by URI and SHA-256: ValidateDataset compares new datasets with the champion's.
    report_prefix = selection.quality_report_uri.rsplit("/", 1)[0]
    pinned |= schema_record(f"{report_prefix}/feature_schema.json", store)
    request = _package_request(run, selection, settings, pinned)
    with registry_turn(registry.group, execution, ledger, executions):
        package = registry.created_by(run.execution_arn, execution.start_time)
        if package is None:
            if run.schema_change is not None:  # judged on the floor alone, against no champion
                _still_declared_against(run.schema_change.replaces_version, registry)
            else:
                _still_the_champion(best.champion if _scored(selection) else run.champion, registry)
            package = registry.describe(registry.create(request)) or {}
    return RegisterModelOutput(
        model_package_arn=package["ModelPackageArn"],
        version=package.get("ModelPackageVersion", 0),
        approval_status=package.get("ModelApprovalStatus", request["ModelApprovalStatus"]),
    )


def _scored(selection: Selection) -> bool:
    """Whether the result says which champion its evaluation scored (a result of a round of
    evaluation does; otherwise the run's champion was scored)."""
    return "champion" in selection.best.model_fields_set


def _still_the_champion(scored: Champion | None, registry: ModelRegistry) -> None:
    now = champion(registry)
    if (now and now.model_package_arn) != (scored and scored.model_package_arn):
        was = f"version {scored.version}" if scored else "no champion"
        raise ChampionChanged(
            f"the candidates were evaluated against {was}; the champion is now "
            + (f"version {now.version} ({now.model_package_arn})" if now else "none")
        )


def _still_declared_against(version: int | None, registry: ModelRegistry) -> None:
    """A run on a declared schema change registers only while the champion the declaration
    replaces is still the champion (the declaration holds for that version alone)."""
    now = champion(registry)
    if (now.version if now else None) != version:
        raise ChampionChanged(
            f"the schema change was declared against version {version}; the champion is now "
            + (f"version {now.version} ({now.model_package_arn})" if now else "none")
        )


def _package_request(
    run: RunContext, selection: Selection, settings: RegisterModelSettings, provenance: dict
) -> dict[str, Any]:
    best = selection.best
    assert best.model_data_url
    status = "Approved" if settings.auto_approve else "PendingManualApproval"
    lineage = {
        "dataset_uri": run.dataset.uri,
        "dataset_version": run.dataset.version_id or f"etag:{run.dataset.etag}",
        "dataset_rows": str(run.dataset.rows),
        "code_version": settings.code_version,
        "execution_arn": run.execution_arn,
        "training_job": best.training_job_name or "unknown",
        "candidate": best.candidate.name,
        "algorithm": best.candidate.algorithm,
        # Metadata values allow letters, digits, spaces and _.:/=+-@ only (no JSON).
        "hyperparameters": " ".join(
            f"{k}={v}" for k, v in sorted(best.candidate.hyperparameters.items())
        )
        or "defaults",
        "metric": selection.gate.metric,
        "score": f"{selection.gate.score:.6f}",
        **provenance,
    }
    # The drift baseline evaluation copied beside the quality report (ml/baseline.py): what
    # the DriftCheck workflow compares live traffic with while this version serves.
    lineage["drift_baseline"] = selection.quality_report_uri.rsplit("/", 1)[0] + "/baseline.json"
    if selection.gate.champion_score is not None:  # metadata values must be non-empty
        lineage["champion_score"] = f"{selection.gate.champion_score:.6f}"
    # What training took and was billed for; below the time on spot (domain.spot).
    lineage |= time_figures(best.training_seconds, best.billable_seconds)
    lineage |= run_lineage(run)
    return {
        "ModelPackageDescription": f"{best.candidate.name} trained on {run.dataset.uri}"[:1024],
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": settings.inference_image_uri,
                    "ModelDataUrl": best.model_data_url,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": settings.sourcedir_uri,
                    },
                }
            ],
            "SupportedContentTypes": CONTENT_TYPES,
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": [settings.inference_instance_type],
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": selection.quality_report_uri,
                }
            }
        },
        "CustomerMetadataProperties": lineage,
        "MetadataProperties": {"GeneratedBy": run.execution_arn[:1024]},
    }
