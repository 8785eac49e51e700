"""One settings model per function, read from the environment the template sets.

Handlers build their settings once at cold start (module level), so a missing or malformed
variable fails the first invocation loudly instead of producing a half-configured run.
Domain code receives these objects (or plain values) and never reads os.environ.
"""

import json
import os
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .domain.autoscaling import ScalingConfig
from .domain.candidates import check_candidates
from .domain.problem import check_gate, check_problem
from .domain.spot import check_spot
from .models import Candidate


class _Settings(BaseModel):
    """Each field is read from the environment variable of its name in any case (LEDGER_TABLE
    for ledger_table); keyword arguments take precedence. Lambda passes every variable as a
    string: pydantic's lax mode converts numbers and booleans, and a field of a structured type
    parses its JSON in a validator (`candidates`).

    A pydantic model rather than pydantic-settings' BaseSettings, which reads the environment
    the same way for these fields but costs every cold start ~20 ms (asyncio, argparse and its
    unused sources). defer_build: a class's validator is built when it is first instantiated,
    so a cold start builds only its own function's settings (pydantic "Configuration")."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True, validate_default=True)

    def __init__(self, **values: Any) -> None:
        environment = {name.lower(): value for name, value in os.environ.items()}
        fields = type(self).model_fields
        super().__init__(**{k: v for k, v in environment.items() if k in fields} | values)


class LedgerSettings(_Settings):
    ledger_table: Annotated[str, Field(description="DynamoDB table of runs and audit entries")]


class ProblemSettings(_Settings):
    """The supervised problem the stack solves and how a model must score to be registered
    (template parameters LabelColumn, ProblemType, PositiveLabel, MaxClasses, PrimaryMetric,
    MinimumMetric, ImprovementMargin). A combination that does not hold together (rmse for a
    classifier, an f1 floor above 1) fails the cold start of every function that reads it with
    ConfigurationInvalid, ValidateDataset's first, so before anything trains; CloudFormation's
    template Rules refuse a metric of another problem type already at deploy time."""

    label_column: str = "malignant"
    problem_type: str = "binary_classification"
    positive_label: Annotated[str, Field(description="Binary: the class mapped to 1")] = "1"
    max_classes: Annotated[int, Field(description="Multiclass: most classes a label may have")] = 20
    primary_metric: str = "f1"
    minimum_metric: Annotated[float, Field(description="A floor, or a ceiling (rmse, mae)")] = 0.9
    improvement_margin: Annotated[float, Field(description="In the metric's units")] = 0.005

    @model_validator(mode="after")
    def _problem_holds_together(self) -> "ProblemSettings":
        check_problem(
            self.problem_type,
            self.primary_metric,
            self.positive_label,
            self.max_classes,
            self.label_column,
        )
        check_gate(self.primary_metric, self.minimum_metric, self.improvement_margin)
        return self


class SpotTrainingSettings(_Settings):
    """Managed spot training (SpotTraining, SpotMaxWaitSeconds): a wait shorter than the run
    fails the cold start of ValidateDataset and PrepareCandidate with ConfigurationInvalid, so
    a run fails before anything trains (domain.spot)."""

    spot_training: bool = False
    spot_max_wait_seconds: Annotated[int, Field(gt=0)] = 7200
    max_runtime_seconds: Annotated[int, Field(gt=0)] = 3600

    @model_validator(mode="after")
    def _spot_wait_covers_the_run(self) -> "SpotTrainingSettings":
        check_spot(self.spot_training, self.spot_max_wait_seconds, self.max_runtime_seconds)
        return self


class ValidateDatasetSettings(LedgerSettings, ProblemSettings, SpotTrainingSettings):
    data_bucket: str
    data_prefix: str
    artifacts_bucket: Annotated[str, Field(description="Where each run snapshots its dataset")]
    min_rows: Annotated[int, Field(ge=2)] = 50
    max_dataset_bytes: Annotated[int, Field(gt=0)] = 50 * 1024 * 1024
    model_package_group: str
    candidates: Annotated[list[Candidate], Field(min_length=1, description="JSON list")]

    @field_validator("candidates", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, value: list[Candidate]) -> list[Candidate]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique, got {names}")
        return value

    @model_validator(mode="after")
    def _candidates_solve_the_problem(self) -> "ValidateDatasetSettings":
        check_candidates(self.candidates, self.problem_type)
        return self


class RecordUploadSettings(LedgerSettings):
    """RecordUpload: where datasets are (DataBucket, DataPrefix), the quiet window
    (QuietWindowSeconds; 0 starts a run at once), and what the prefix's one-time schedule
    starts: the TrainingPipeline, through the stack's schedule group and Scheduler role, with
    the stack's dead-letter queue."""

    data_bucket: str
    data_prefix: str
    quiet_window_seconds: Annotated[int, Field(ge=0, le=86400)] = 60
    training_pipeline_arn: str
    schedule_group: str
    scheduler_role_arn: str
    dead_letter_queue_arn: str


class CodeLocation(_Settings):
    artifacts_bucket: str
    code_version: str

    def at(self, version: str | None) -> Self:
        """The same location for another code version (a run that names its own); None keeps
        the stack's."""
        return self if version is None else self.model_copy(update={"code_version": version})

    @property
    def code_prefix(self) -> str:
        return f"code/{self.code_version}"

    @property
    def sourcedir_uri(self) -> str:
        """Script-mode source tarball of ml/ (the SageMaker SDK's `sourcedir.tar.gz` layout)."""
        return f"s3://{self.artifacts_bucket}/{self.code_prefix}/sourcedir.tar.gz"

    @property
    def source_files_uri(self) -> str:
        """The same files unpacked, for Processing inputs."""
        return f"s3://{self.artifacts_bucket}/{self.code_prefix}/src/"


class PrepareCandidateSettings(CodeLocation, ProblemSettings, SpotTrainingSettings):
    sagemaker_role_arn: str
    model_package_group: Annotated[str, Field(description="Whose champion a later round scores")]
    training_image_uri: str
    training_instance_type: str = "ml.m5.large"
    processing_instance_type: str = "ml.m5.large"
    job_name_prefix: Annotated[str, Field(pattern=r"^[a-zA-Z0-9-]{1,16}$")] = "mlops"
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.2
    split_seed: int = 42

    @property
    def problem_arguments(self) -> dict[str, str | int]:
        """What every training and evaluation job is told about the problem (train.py's and
        evaluate.py's --problem-type, --positive-label, --max-classes)."""
        return {
            "problem-type": self.problem_type,
            "positive-label": self.positive_label,
            "max-classes": self.max_classes,
        }


class SelectCandidateSettings(ProblemSettings):
    """Ranks and gates by ProblemSettings' primary_metric, minimum_metric, improvement_margin."""


class RegisterModelSettings(CodeLocation, LedgerSettings):
    model_package_group: str
    auto_approve: bool = False
    inference_image_uri: str
    inference_instance_type: str = "ml.m5.large"


class ProvenanceSettings(_Settings):
    """What a package must match to be deployed by this stack (domain.provenance): its model
    data and code in this stack's artifacts bucket, its image the stack's serving image."""

    artifacts_bucket: str
    inference_image_uri: str

    @property
    def data_capture_uri(self) -> str:
        """Where the live endpoint's data capture goes (the drift checks read it)."""
        return f"s3://{self.artifacts_bucket}/data-capture"


class EndpointSettings(_Settings):
    endpoint_name: str
    model_package_group: str
    sagemaker_role_arn: str
    inference_instance_type: str = "ml.m5.large"
    inference_instance_count: Annotated[int, Field(ge=1)] = 1
    variant_name: str = "AllTraffic"
    #: DataCapturePercent: share of live requests captured for drift checks (0 = none)
    data_capture_percent: Annotated[int, Field(ge=0, le=100)] = 0


class DeploySettings(EndpointSettings, ProvenanceSettings):
    """Ranges are checked by domain.strategy, so a bad combination is the named error
    DeploymentConfigInvalid in the workflow rather than a cold-start failure. Shadow tests
    capture to the artifacts bucket."""

    deployment_strategy: str = "CANARY"
    canary_size_percent: int = 25
    linear_step_percent: int = 25
    bake_seconds: int = 300
    termination_wait_seconds: int = 120
    max_execution_timeout_seconds: int = 3600
    error_alarm_name: str
    latency_alarm_name: str
    latency_threshold_us: float = 500_000.0
    alarm_period_seconds: int = 60
    alarm_evaluation_periods: int = 1
    shadow_mode: bool = False
    shadow_window_seconds: Annotated[int, Field(ge=0)] = 600
    #: ABTestMode: the candidate serves a share of live traffic beside the live version first
    ab_test_mode: bool = False
    ab_candidate_weight_percent: Annotated[int, Field(ge=1, le=50)] = 10


class ShadowSettings(_Settings):
    model_package_group: str
    shadow_min_requests: Annotated[int, Field(ge=1)] = 100
    shadow_max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    shadow_min_agreement: Annotated[float, Field(ge=0, le=1)] = 0.95
    shadow_max_latency_ratio: Annotated[float, Field(gt=0)] = 1.5


class ABTestSettings(LedgerSettings):
    """What JudgeABTest decides on (domain.ab_test): the window, the evidence, the thresholds,
    and the problem type, which names the quality metric of labelled requests."""

    model_package_group: str
    artifacts_bucket: str
    problem_type: str = "binary_classification"
    positive_label: str = "1"
    ab_window_seconds: Annotated[int, Field(ge=0)] = 3600
    ab_min_requests: Annotated[int, Field(ge=1)] = 100
    ab_max_error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    ab_max_latency_ratio: Annotated[float, Field(gt=0)] = 1.5
    #: In the quality metric's units: accuracy, or the label's units for MAE
    ab_min_quality_difference: float = 0.0


class RollbackSettings(EndpointSettings, ProvenanceSettings):
    error_alarm_name: Annotated[str, Field(description="The alarm whose ALARM rolls back")]
    ledger_table: Annotated[str, Field(description="Where an alarm's rollback is claimed")]


class AcquireEndpointSettings(LedgerSettings):
    endpoint_name: str


class RecordRollbackSettings(LedgerSettings):
    model_package_group: str


class VerifyDeploymentSettings(_Settings):
    model_package_group: str


class SmokeTestSettings(_Settings):
    model_package_group: str
    smoke_rows: Annotated[int, Field(ge=1, le=100)] = 5
    label_column: str = "malignant"


class RecordOutcomeSettings(LedgerSettings):
    topic_arn: str


class PipelineNotifierSettings(_Settings):
    """The delivery pipeline's notifier (codepipeline.yaml): where its messages go."""

    topic_arn: str


class DriftCheckSettings(LedgerSettings, CodeLocation):
    """PlanDriftCheck: the live endpoint, where its capture is, and the processing job."""

    endpoint_name: str
    variant_name: str = "AllTraffic"
    model_package_group: str
    sagemaker_role_arn: str
    training_image_uri: str
    processing_instance_type: str = "ml.m5.large"
    job_name_prefix: Annotated[str, Field(pattern=r"^[a-zA-Z0-9-]{1,16}$")] = "mlops"
    max_runtime_seconds: Annotated[int, Field(gt=0)] = 3600

    @property
    def data_capture_uri(self) -> str:
        return f"s3://{self.artifacts_bucket}/data-capture"


class JudgeDriftSettings(LedgerSettings):
    """JudgeDrift: the thresholds (DriftMinimumRows, DriftPsiThreshold, DriftKsThreshold), the
    stack bus the Model Drift Detected event goes to, and the stack's metric namespace."""

    event_bus_name: str
    metrics_namespace: str
    drift_minimum_rows: Annotated[int, Field(ge=1)] = 100
    drift_psi_threshold: Annotated[float, Field(gt=0)] = 0.25
    drift_ks_threshold: Annotated[float, Field(gt=0, le=1)] = 0.2


class ConfigureScalingSettings(_Settings):
    """Template parameters AutoScaling* (domain.autoscaling.ScalingConfig); a combination that
    does not hold together is AutoScalingConfigInvalid when ConfigureScaling runs."""

    variant_name: str = "AllTraffic"
    auto_scaling: bool = False
    auto_scaling_min_instances: int = 1
    auto_scaling_max_instances: int = 1
    auto_scaling_target_invocations: float = 100.0
    auto_scaling_scale_out_cooldown: int = 60
    auto_scaling_scale_in_cooldown: int = 300

    @property
    def scaling(self) -> ScalingConfig:
        return ScalingConfig(
            enabled=self.auto_scaling,
            min_instances=self.auto_scaling_min_instances,
            max_instances=self.auto_scaling_max_instances,
            target_invocations=self.auto_scaling_target_invocations,
            scale_out_cooldown=self.auto_scaling_scale_out_cooldown,
            scale_in_cooldown=self.auto_scaling_scale_in_cooldown,
        )
