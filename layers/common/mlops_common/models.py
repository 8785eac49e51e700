"""Pydantic models of every event and payload the functions exchange with the state machines.

Input and output models are separate classes; the state machines pass these shapes verbatim.
Every input model names its correlation id: the name of the Step Functions execution the
invocation belongs to, which the handler decorator puts on every log line.
"""

from abc import abstractmethod
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class Payload(BaseModel):
    # defer_build: a model's validator and serializer are built on first use, so a function
    # builds only the models it exchanges, not all of them at import (pydantic "Configuration").
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


class Execution(Payload):
    """The subset of the Step Functions context object `$$.Execution` a function needs."""

    name: Annotated[str, Field(alias="Name", description="Execution name: the correlation id")]
    id: Annotated[str, Field(alias="Id", description="Execution ARN")]
    input: Annotated[
        Any, Field(alias="Input", description="The execution input: what started the run")
    ] = None
    start_time: Annotated[
        datetime | None, Field(alias="StartTime", description="When the execution started")
    ] = None


class FunctionInput(Payload):
    """What a handler parses its event into. A subclass that does not say where its
    correlation id is cannot be instantiated (pydantic models are ABCs)."""

    @property
    @abstractmethod
    def correlation_id(self) -> str | None:
        """Name of the Step Functions execution this invocation works for."""


class ExecutionInput(FunctionInput):
    """Input of a task whose ASL passes `"execution.$": "$$.Execution"`."""

    execution: Execution

    @property
    def correlation_id(self) -> str:
        return self.execution.name


# ---- events -------------------------------------------------------------------------------


class ModelPackageStateChangeDetail(Payload):
    ModelPackageGroupName: str
    ModelPackageVersion: int
    ModelPackageArn: str
    ModelPackageStatus: str | None = None
    ModelApprovalStatus: Literal["Approved", "Rejected", "PendingManualApproval"]
    LastModifiedTime: Annotated[
        str | float | None, Field(description="Part of the business key of a deployment")
    ] = None


class ModelPackageStateChangeEvent(EventBridgeModel):
    """`aws.sagemaker` / `SageMaker Model Package State Change`, as described in "Automating
    Amazon SageMaker AI with Amazon EventBridge"
    (docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html)."""

    detail: ModelPackageStateChangeDetail


# ---- training pipeline ---------------------------------------------------------------------


class DatasetLocation(Payload):
    """An object in the data bucket; without a version, whatever version is current when the
    run validates it (the run then pins that version)."""

    model_config = ConfigDict(extra="forbid")

    bucket: Annotated[str, Field(min_length=3, max_length=63)]
    key: Annotated[str, Field(min_length=1, max_length=1024)]
    version_id: Annotated[str | None, Field(min_length=1)] = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class DatasetUpload(Payload):
    """What an `aws.s3` `Object Created` event says about the new object."""

    bucket: str
    key: str
    version_id: Annotated[str | None, Field(description="None if the bucket is unversioned")]
    etag: str
    size: int | None = None
    requester: str | None = None
    # Where the upload sits among others (domain.uploads orders a burst by them).
    sequencer: Annotated[str | None, Field(description="Orders events of one key")] = None
    event_time: Annotated[str | None, Field(description="The event's time, ISO 8601")] = None
    event_id: str | None = None
    replay_name: Annotated[str | None, Field(description="Set on a replayed event")] = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def version(self) -> str:
        """What tells this content apart: the version id, else (unversioned) the ETag."""
        return self.version_id or self.etag


class UploadRef(Payload):
    """One recorded upload: its key and version (the version id, else the ETag)."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(min_length=1, max_length=1024)]
    version: Annotated[str, Field(min_length=1)]


class BurstStart(Payload):
    """A TrainingPipeline input of design decision D1, item 3: train the newest upload recorded
    under `prefix` of `bucket` (RecordUpload keeps it in the ledger), and account for the older
    uploads of the burst. Started by the prefix's one-time schedule once the quiet window passed
    (`started_by` "schedule", with the schedule's context attributes), or by RecordUpload itself
    when QuietWindowSeconds is 0 ("upload", naming the `upload`: that one alone is trained, as
    every upload once was)."""

    model_config = ConfigDict(extra="forbid")

    bucket: Annotated[str, Field(min_length=3, max_length=63)]
    prefix: Annotated[str, Field(max_length=1024)]
    started_by: Literal["schedule", "upload"]
    schedule_arn: str | None = None
    scheduled_time: str | None = None
    upload: UploadRef | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class RetrainRequest(Payload):
    """A request to train again (design decision D1): the detail of a `Retrain Requested` event
    on the stack bus, or the object under "retrain" of a TrainingPipeline StartExecution input.
    Unknown fields are refused, so a misspelt "force" cannot silently mean False."""

    model_config = ConfigDict(extra="forbid")

    dataset: Annotated[
        DatasetLocation | Literal["latest"],
        Field(description='An object version, or "latest": the newest version this stack '
              "trained or tried to train, else the newest object under the data prefix"),
    ]  # fmt: skip
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"\S")]
    requested_by: Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]
    force: Annotated[bool, Field(description="Train even if the version was handled")] = False
    request_id: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@=+/-]{0,127}$",
            description="Unique per request; a replay of the same request reuses it",
        ),
    ]
    code_version: Annotated[
        str | None,
        Field(pattern=r"^[a-zA-Z0-9._-]{1,64}$", description="ml/ version; None: the stack's"),
    ] = None
    trigger: Annotated[
        Literal["retrain", "drift"],
        Field(description='"drift": asked for by a drift check (the lineage says so)'),
    ] = "retrain"


class RunTrigger(Payload):
    """Why a run trains: recorded in the ledger and in the registered version's lineage."""

    kind: Literal["upload", "retrain", "drift"]
    attempt: Annotated[int, Field(ge=1, description="1 for a first run of a dataset version")]
    forced: bool = False
    request_id: str | None = None
    reason: str | None = None
    requested_by: Annotated[
        str | None, Field(description="The operator, or the principal that uploaded")
    ] = None


class DatasetRef(Payload):
    bucket: str
    key: str
    version_id: Annotated[str | None, Field(description="S3 version; None if unversioned")] = None
    etag: str
    size: int
    rows: Annotated[int, Field(description="Data rows (header excluded)")]
    features: Annotated[int, Field(description="Feature columns (label excluded)")]
    label: str
    snapshot_uri: Annotated[
        str | None,
        Field(description="The run's own copy of exactly this version: what its jobs read"),
    ] = None
    parts: Annotated[
        int | None, Field(description="A dataset in parts: how many (None: a single file)")
    ] = None
    parts_manifest_uri: Annotated[
        str | None, Field(description="The parts and their versions, as the run read them")
    ] = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def business_key(self) -> str:
        """Stable across replays (the event id is not): object + version, or etag if unversioned."""
        return f"dataset#{self.uri}#{self.version_id or self.etag}"

    @property
    def snapshot_prefix(self) -> str | None:
        """The folder holding the snapshot alone: the S3Prefix of the jobs' data inputs (for a
        dataset in parts, snapshot_uri is that folder)."""
        return self.snapshot_uri.rsplit("/", 1)[0] + "/" if self.snapshot_uri else None


class Candidate(Payload):
    name: Annotated[
        str,
        Field(
            pattern=r"^[a-z0-9](-?[a-z0-9]){0,19}$",
            max_length=20,
            description="Slug; job names embed it (63-character limit)",
        ),
    ]
    algorithm: Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z0-9_]{0,63}$",
            description="A name ml/estimators.py registers (domain.candidates knows the built-in"
            " ones); the stack's ProblemType picks its classifier or regressor",
        ),
    ]
    hyperparameters: dict[str, str | int | float] = Field(default_factory=dict)


class Champion(Payload):
    model_package_arn: str
    version: int
    model_data_url: str
    feature_schema_uri: Annotated[
        str | None, Field(description="Its feature schema JSON (None: registered without one)")
    ] = None
    feature_schema_sha256: str | None = None


class SchemaChange(Payload):
    """An operator's declaration (`mlops schema accept`) that the next version may have other
    features than the champion's: it is judged on MinimumMetric alone."""

    reason: str
    declared_by: str
    declared_at: str
    replaces_version: Annotated[
        int | None, Field(description="The champion it was declared against")
    ] = None


class RunContext(Payload):
    run_id: Annotated[str, Field(description="Execution name of the training run")]
    execution_arn: str
    dataset: DatasetRef
    candidates: list[Candidate]
    champion: Champion | None = None
    trigger: RunTrigger | None = None
    ledger_key: Annotated[
        str | None,
        Field(description="The run's business key; the dataset's unless a forced retrain"),
    ] = None
    code_version: Annotated[
        str | None, Field(description="ml/ version the run trains with; None: the stack's")
    ] = None
    schema_change: Annotated[
        SchemaChange | None,
        Field(description="Declared schema change this run trains on: no champion comparison"),
    ] = None

    @property
    def business_key(self) -> str:
        return self.ledger_key or self.dataset.business_key


class RunInput(FunctionInput):
    """Input of a task of a training run: the run id is the TrainingPipeline execution name."""

    run: RunContext

    @property
    def correlation_id(self) -> str:
        return self.run.run_id


class ValidateDatasetInput(ExecutionInput):
    event: dict[str, Any]


class ValidateDatasetOutput(Payload):
    action: Literal["TRAIN", "SKIP"]
    reason: str
    run: RunContext | None = None


class RecordUploadInput(FunctionInput):
    """RecordUpload's event: what the NewDataset rule delivers (an `Object Created` event),
    taken whole; domain.uploads parses it and names what is malformed."""

    event: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, data: Any) -> Any:
        return {"event": data}

    @property
    def correlation_id(self) -> str | None:
        return self.event.get("id") if isinstance(self.event.get("id"), str) else None


class RecordUploadOutput(Payload):
    """What RecordUpload did with one upload (also its log line)."""

    outcome: Literal["SCHEDULED", "STARTED", "REFUSED", "ALREADY_HANDLED"]
    upload: str  # s3://bucket/key#version
    reason: str
    newest: bool = False  # it became the newest upload of its prefix
    fires_at: str | None = None  # the schedule's at() time
    execution_arn: str | None = None  # QuietWindowSeconds 0: the execution it started


class PrepareCandidateInput(RunInput):
    candidate: Candidate
    round: Annotated[
        int,
        Field(
            ge=0,
            description="0: train and evaluate; n > 0: evaluate again, round n, "
            "against the champion of now (the champion changed before registration)",
        ),
    ] = 0


class CandidatePlan(Payload):
    candidate: Candidate
    training: Annotated[dict[str, Any], Field(description="CreateTrainingJob request")]
    evaluation: Annotated[dict[str, Any], Field(description="CreateProcessingJob request")]
    model_data_url: str
    report_uri: Annotated[str, Field(description="S3 URI of evaluation.json")]
    champion: Annotated[
        Champion | None, Field(description="The champion the evaluation scores beside it")
    ] = None


class CandidateResult(Payload):
    status: Literal["EVALUATED", "FAILED"]
    candidate: Candidate
    training_job_name: str | None = None
    model_data_url: str | None = None
    report_uri: str | None = None
    error: dict[str, Any] | None = None
    #: The training job's TrainingTimeInSeconds and BillableTimeInSeconds (domain.spot)
    training_seconds: int | None = None
    billable_seconds: int | None = None
    champion: Annotated[
        Champion | None, Field(description="The champion its evaluation scored (None: none)")
    ] = None


class SelectCandidateInput(RunInput):
    results: list[CandidateResult]


class Gate(Payload):
    """The champion/challenger decision, in the metric's own units; the BeatsChampion Choice
    compares these fields in the metric's direction."""

    metric: str
    direction: Annotated[
        Literal["higher", "lower"], Field(description="Which way the metric is better")
    ] = "higher"
    score: Annotated[float, Field(description="Best candidate's score on the held-out split")]
    threshold: Annotated[
        float,
        Field(
            validation_alias=AliasChoices("threshold", "floor"),
            description="MinimumMetric: a floor when higher is better, a ceiling when lower is",
        ),
    ]
    margin: float
    champion_score: Annotated[float | None, Field(description="Champion on the same split")]
    to_beat: Annotated[
        float | None,
        Field(description="champion_score + margin (higher is better) or - margin (lower)"),
    ]


class Selection(Payload):
    best: CandidateResult
    metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = None
    quality_report_uri: str
    gate: Gate
    champion_skipped: Annotated[
        str | None, Field(description="Why the champion was not scored (another problem type)")
    ] = None
    failed: list[CandidateResult] = Field(default_factory=list)
    leaderboard: list[dict[str, Any]] = Field(default_factory=list)


class RegisterModelInput(RunInput):
    selection: Selection
    execution: Annotated[
        Execution | None,
        Field(
            description="`$$.Execution`: its StartTime bounds the search "
            "for a package a crashed invocation created"
        ),
    ] = None


class RegisterModelOutput(Payload):
    model_package_arn: str
    version: int
    approval_status: str


# ---- deploy pipeline -------------------------------------------------------------------------


class DeployPlanInput(ExecutionInput):
    event: dict[str, Any]


class DeploymentTarget(Payload):
    """What an endpoint update aims at: the package version and the requests that serve it."""

    model_package_arn: str
    version: int
    endpoint_name: str
    execution_name: Annotated[
        str | None,
        Field(description="The execution that planned it: the correlation id of later steps"),
    ] = None
    model: dict[str, Any] = Field(default_factory=dict, description="CreateModel request")
    endpoint_config: dict[str, Any] = Field(
        default_factory=dict, description="CreateEndpointConfig"
    )
    previous_config: str | None = None


class DeployPlan(DeploymentTarget):
    action: Annotated[
        Literal["DEPLOY", "SKIP", "SUPERSEDED", "WAIT"],
        Field(description="WAIT: the endpoint is busy outside the control plane; try again"),
    ]
    reason: str
    champion: Annotated[
        Champion | None,
        Field(description="The newest Approved version when planned (domain.champion)"),
    ] = None
    endpoint_exists: bool = False
    deployment_config: dict[str, Any] = Field(default_factory=dict, description="UpdateEndpoint")
    latency_alarm: dict[str, Any] = Field(default_factory=dict, description="PutMetricAlarm")
    shadow: dict[str, Any] = Field(
        default_factory=lambda: {"enabled": False},
        description="Shadow test first: config, window, capture",
    )
    ab_test: dict[str, Any] = Field(
        default_factory=lambda: {"enabled": False},
        description="A/B test first: config of both variants, weights, capture",
    )


class PlanInput(FunctionInput):
    """Input of a task that carries a plan on: the execution that planned it correlates."""

    plan: DeploymentTarget

    @property
    def correlation_id(self) -> str | None:
        return self.plan.execution_name


class CompareShadowInput(PlanInput):
    plan: DeployPlan
    endpoint: Annotated[dict[str, Any], Field(description="DescribeEndpoint of the shadow test")]


class ShadowComparison(Payload):
    decision: Literal["PROMOTE", "DISCARD"]
    reason: str
    requests: Annotated[int, Field(description="Copies the shadow variant answered")]
    paired: Annotated[int, Field(description="Requests captured for both variants")]
    agreement: float | None
    shadow_error_rate: float | None
    shadow_latency_ms: float | None
    production_latency_ms: float | None
    latency_ratio: float | None
    thresholds: dict[str, float | int]


class JudgeABTestInput(PlanInput):
    plan: DeployPlan
    endpoint: Annotated[dict[str, Any], Field(description="DescribeEndpoint as the test began")]
    execution: Annotated[Execution, Field(description="The DeployPipeline running the test")]


class VariantFigures(Payload):
    """One production variant over the A/B window (CloudWatch, VariantName dimension)."""

    variant: str
    weight_percent: int
    requests: int
    errors: int
    error_rate: float | None
    latency_ms: float | None
    labelled: Annotated[int, Field(description="Captured requests with an uploaded label")] = 0
    quality: Annotated[float | None, Field(description="accuracy, or MAE for regression")] = None
    quality_error: Annotated[
        float | None, Field(description="standard error of the quality figure")
    ] = None


class ABComparison(Payload):
    decision: Literal["WAIT", "PROMOTE", "STOP"]
    decided_by: Annotated[str, Field(description="rule, or the operator who decided")]
    reason: str
    live: VariantFigures
    candidate: VariantFigures
    quality_metric: Annotated[str | None, Field(description="None: no labels joined")] = None
    elapsed_seconds: int
    window_seconds: int
    thresholds: dict[str, float | int]


class OperatorRequest(Payload):
    requested_by: Annotated[str, Field(min_length=1, description="Who asks for the rollback")]
    reason: Annotated[str, Field(min_length=1)]


class RollbackPlanInput(ExecutionInput):
    request: Annotated[
        dict[str, Any],
        Field(description="The execution input: an EventBridge event or {'operator': {...}}"),
    ]


class PassedOver(Payload):
    """An approved version a rollback did not go back to: it fails provenance."""

    model_package_arn: str
    version: int
    problems: str


class RollbackPlan(DeploymentTarget):
    action: Literal["ROLLBACK", "SKIP", "NOTHING", "WAIT"]
    reason: str
    trigger: Literal["rejected-package", "alarm", "operator"]
    requested_by: str
    from_version: int | None = None
    from_package_arn: str | None = None
    model_package_arn: str = ""
    version: int = 0
    passed_over: Annotated[
        list[PassedOver], Field(description="Newer candidates that failed provenance")
    ] = Field(default_factory=list)


class RecordRollbackInput(ExecutionInput):
    plan: RollbackPlan


class RecordRollbackOutput(Payload):
    audit_key: str
    from_version: int | None
    to_version: int
    rejected: str | None


class AcquireEndpointInput(ExecutionInput):
    workflow: Annotated[Literal["deploy", "rollback"], Field(description="Who asks for a turn")]


class AcquireEndpointOutput(Payload):
    """Whether this execution holds the endpoint lock (design D3), and if not, who does."""

    acquired: bool
    key: Annotated[str, Field(description="Ledger pk of the lock: lock#endpoint#<endpoint>")]
    endpoint_name: str
    holder: Annotated[str, Field(description="Execution ARN holding the lock")]
    holder_workflow: str
    since: str
    reason: str


class VerifyDeploymentInput(PlanInput):
    endpoint: Annotated[dict[str, Any], Field(description="DescribeEndpoint response")]
    reject_on_rollback: Annotated[
        bool, Field(description="Reject the target package if guardrails rolled the update back")
    ] = True


class VerifyDeploymentOutput(Payload):
    endpoint_name: str
    endpoint_config_name: str
    status: str


class SmokeTestInput(PlanInput):
    pass


class SmokeTestOutput(Payload):
    endpoint_name: str
    rows: int
    predictions: list[dict[str, Any]]
    latency_ms: float


# ---- notifications ---------------------------------------------------------------------------


class OutcomeInput(ExecutionInput):
    workflow: Literal["training", "deploy", "rollback", "drift"]
    outcome: Annotated[str, Field(description="REGISTERED, NOT_BETTER, FAILED, DEPLOYED, ...")]
    state: Annotated[dict[str, Any], Field(description="The workflow state at this point")]


class OutcomeOutput(Payload):
    subject: str
    message_id: str | None
    recorded: bool


# ---- drift checks (README "Drift detection") ----------------------------------------------


class DriftCheckInput(ExecutionInput):
    """PlanDriftCheck: the execution alone (the schedule starts it with an empty input)."""


class DriftPlan(Payload):
    action: Annotated[Literal["CHECK", "SKIP"], Field(description="SKIP: nothing to compare")]
    outcome: Annotated[
        str | None, Field(description="A SKIP's outcome: NOT_CHECKED or TOO_FEW_ROWS")
    ] = None
    reason: str
    endpoint_name: str
    model_package_arn: str | None = None
    version: int | None = None
    baseline_uri: str | None = None
    window_start: str
    window_end: str
    capture_files: int = 0
    report_uri: Annotated[str | None, Field(description="drift.json the job writes")] = None
    job: Annotated[
        dict[str, Any] | None, Field(description="CreateProcessingJob request of ml/drift.py")
    ] = None


class JudgeDriftInput(ExecutionInput):
    plan: DriftPlan


class DriftingFeature(Payload):
    feature: str
    psi: float
    ks: float


class DriftVerdict(Payload):
    outcome: Literal["DRIFT_DETECTED", "NO_DRIFT", "TOO_FEW_ROWS", "NOT_CHECKED"]
    summary: Annotated[str, Field(description="One line for the notification")]
    endpoint_name: str
    version: int | None = None
    rows: int = 0
    report_uri: str | None = None
    max_psi: float | None = None
    max_ks: float | None = None
    drifting: list[DriftingFeature] = []
    retrain_request_id: Annotated[
        str | None, Field(description="The retrain the Model Drift Detected event asks for")
    ] = None


# ---- autoscaling -----------------------------------------------------------------------------


class ConfigureScalingInput(PlanInput):
    action: Annotated[
        Literal["prepare", "register"],
        Field(description="prepare: before UpdateEndpoint; register: once the endpoint settled"),
    ]


class ConfigureScalingOutput(Payload):
    endpoint_name: str
    variant: str
    action: str
    registered: Annotated[bool, Field(description="The variant is a scalable target now")] = False
    retain_variant_properties: Annotated[
        bool, Field(description="UpdateEndpoint RetainAllVariantProperties")
    ] = False
    min_instances: int | None = None
    max_instances: int | None = None
    target_invocations: float | None = None
    note: str = ""
