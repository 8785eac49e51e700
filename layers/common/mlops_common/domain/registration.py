"""Registering the winning candidate in the Model Registry, with its lineage."""

from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..models import RegisterModelOutput, RunContext, Selection
from ..settings import RegisterModelSettings
from .feature_schema import record as schema_record
from .lineage import run_lineage
from .provenance import record_provenance

CONTENT_TYPES = ["text/csv", "application/json"]


def register_model(
    run: RunContext,
    selection: Selection,
    settings: RegisterModelSettings,
    registry: ModelRegistry,
    store: S3Store,
) -> RegisterModelOutput:
    best = selection.best
    assert best.model_data_url and best.report_uri
    settings = settings.at(run.code_version)  # the code the run trained with serves it
    # Checked before every deployment of the package (domain.provenance).
    provenance = record_provenance(best.model_data_url, settings.sourcedir_uri, store)
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
    lineage |= run_lineage(run)
    # The feature schema (names, order, types) the evaluation wrote beside the quality report,
    # pinned by URI and SHA-256: ValidateDataset compares new datasets with the champion's.
    report_prefix = selection.quality_report_uri.rsplit("/", 1)[0]
    lineage |= schema_record(f"{report_prefix}/feature_schema.json", store)
    arn = registry.create(
        {
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
    )
    package = registry.describe(arn) or {}
    return RegisterModelOutput(
        model_package_arn=arn,
        version=package.get("ModelPackageVersion", 0),
        approval_status=status,
    )
