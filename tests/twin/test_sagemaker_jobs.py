"""The twin's SageMaker job seam runs training/processing jobs for real against local S3."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from mlops.twin.sagemaker.jobs.runner import JobRunner

if TYPE_CHECKING:
    from conftest import MotoServer

pytestmark = [pytest.mark.twin, pytest.mark.slow]

ACCOUNT, REGION = "123456789012", "us-east-1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
FIXTURES = Path(__file__).parent / "fixtures" / "jobs"
CSV = "mean_radius,mean_texture,malignant\n14.1,19.2,1\n12.0,17.9,0\n13.3,18.4,1\n"
METRICS = [
    {"Name": "validation:accuracy", "Regex": r"metric accuracy=([0-9.]+)"},
    {"Name": "validation:f1", "Regex": r"metric f1=([0-9.]+)"},
    {"Name": "validation:never-printed", "Regex": r"metric auc=([0-9.]+)"},
]


@dataclass
class Cloud:
    endpoint: str
    s3: Any
    sagemaker: Any
    bucket: str
    sourcedir: str
    client: Callable[[str], Any]


@dataclass
class Recorder:
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, kind: str, job: Any) -> None:
        status = job.training_job_status if kind == "training" else job.processing_job_status
        name = job.training_job_name if kind == "training" else job.processing_job_name
        self.events.append((kind, name, status))

    def statuses(self, name: str) -> list[str]:
        return [status for _, job_name, status in self.events if job_name == name]


@pytest.fixture(scope="module")
def cloud(moto_server: MotoServer) -> Cloud:
    return make_cloud(moto_server)


def make_cloud(moto_server: MotoServer) -> Cloud:
    """A bucket with the fixture scripts as a sourcedir, a small dataset and two programs."""
    s3 = moto_server.client("s3")
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for script in [*sorted(FIXTURES.glob("*.py")), FIXTURES / "requirements.txt"]:
            tar.add(script, arcname=script.name)
    s3.put_object(Bucket=bucket, Key="code/v1/sourcedir.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=bucket, Key="datasets/v1/breast_cancer.csv", Body=CSV.encode())
    s3.put_object(Bucket=bucket, Key="datasets/v1/extra.csv", Body=CSV.encode())
    s3.put_object(
        Bucket=bucket, Key="code/v1/process_ok.py", Body=(FIXTURES / "process_ok.py").read_bytes()
    )
    s3.put_object(
        Bucket=bucket,
        Key="code/v1/process_fail.py",
        Body=(FIXTURES / "process_fail.py").read_bytes(),
    )
    return Cloud(
        moto_server.url,
        s3,
        moto_server.client("sagemaker"),
        bucket,
        f"s3://{bucket}/code/v1/sourcedir.tar.gz",
        moto_server.client,
    )


def _runner(cloud: Cloud, root: Path, recorder: Recorder, **options: Any) -> JobRunner:
    return JobRunner(
        s3_client_factory=lambda: cloud.client("s3"),
        work_root=root,
        endpoint_url=cloud.endpoint,
        base_env={"POWERTOOLS_TRACE_DISABLED": "true"},  # no PATH, like the twin passes
        on_state_change=recorder,
        **options,
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(cloud: Cloud, tmp_path: Path, recorder: Recorder) -> Iterator[JobRunner]:
    job_runner = _runner(cloud, tmp_path, recorder, stop_grace_seconds=2.0)
    yield job_runner
    job_runner.uninstall()


def _training_request(cloud: Cloud, program: str, **overrides: Any) -> dict[str, Any]:
    name = f"train-{uuid.uuid4().hex[:10]}"
    hyperparameters = {
        # JSON-encoded, as the SageMaker Python SDK sends them
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(cloud.sourcedir),
        "sagemaker_container_log_level": "20",
        "sagemaker_region": json.dumps(REGION),
        **overrides.pop("hyperparameters", {}),
    }
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {
            "TrainingImage": overrides.pop("image", IMAGE),
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3DataDistributionType": "FullyReplicated",
                        "S3Uri": overrides.pop("train_uri", f"s3://{cloud.bucket}/datasets/v1/"),
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{cloud.bucket}/models/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": overrides.pop("max_runtime", 600)},
        **overrides,
    }
    return request


def _start_training(cloud: Cloud, runner: JobRunner, request: dict[str, Any]) -> Any:
    cloud.sagemaker.create_training_job(**json.loads(json.dumps(request)))
    job = sagemaker_backends[ACCOUNT][REGION].training_jobs[request["TrainingJobName"]]
    runner.start_training(job, request=request)
    return job


def _describe(cloud: Cloud, name: str) -> dict[str, Any]:
    return cloud.sagemaker.describe_training_job(TrainingJobName=name)


def _tar_members(cloud: Cloud, uri: str) -> dict[str, bytes]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@dataclass
class CompletedTraining:
    request: dict[str, Any]
    described: dict[str, Any]
    model: dict[str, bytes]
    statuses: list[str]
    job_dir: Path


@pytest.fixture(scope="module")
def completed_training(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> CompletedTraining:
    root = tmp_path_factory.mktemp("jobs")
    recorder = Recorder()
    job_runner = _runner(cloud, root, recorder)
    try:
        request = _training_request(
            cloud,
            "train_ok.py",
            hyperparameters={"n-estimators": "50", "label": json.dumps("malignant")},
            Environment={"TWIN_FLAG": "on"},
        )
        _start_training(cloud, job_runner, request)
        assert job_runner.wait_idle(180)
    finally:
        job_runner.uninstall()
    name = request["TrainingJobName"]
    described = _describe(cloud, name)
    model = _tar_members(cloud, described["ModelArtifacts"]["S3ModelArtifacts"])
    return CompletedTraining(request, described, model, recorder.statuses(name), root / name)


def test_successful_training_uploads_model_tar_with_the_scripts_model_file(
    completed_training: CompletedTraining, cloud: Cloud
) -> None:
    described = completed_training.described
    name = completed_training.request["TrainingJobName"]
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["SecondaryStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{cloud.bucket}/models/{name}/output/model.tar.gz"
    )
    assert completed_training.model["model.txt"] == b"trees=50 rows=6\n"
    output = _tar_members(cloud, f"s3://{cloud.bucket}/models/{name}/output/output.tar.gz")
    assert output == {"report.txt": b"rows=6\n"}
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert described["TrainingEndTime"] >= described["TrainingStartTime"]
    assert described["TrainingTimeInSeconds"] >= 1
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]
    assert "FailureReason" not in described


def test_final_metrics_come_from_the_requests_metric_definitions(
    completed_training: CompletedTraining,
) -> None:
    described = completed_training.described
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics == {"validation:accuracy": 0.93, "validation:f1": 0.91}
    assert described["AlgorithmSpecification"]["MetricDefinitions"] == METRICS


def test_hyperparameters_arrive_as_cli_args_and_sm_environment_is_set(
    completed_training: CompletedTraining, cloud: Cloud
) -> None:
    seen = json.loads(completed_training.model["seen.json"])
    job_dir = completed_training.job_dir
    assert seen["argv"] == ["--label", "malignant", "--n-estimators", "50"]
    assert seen["files"] == ["breast_cancer.csv", "extra.csv"]
    env = seen["env"]
    assert env["SM_MODEL_DIR"] == str(job_dir / "model")
    assert env["SM_CHANNEL_TRAIN"] == str(job_dir / "input" / "data" / "train")
    assert env["SM_OUTPUT_DATA_DIR"] == str(job_dir / "output" / "data")
    assert json.loads(env["SM_HPS"]) == {"label": "malignant", "n-estimators": 50}
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["TRAINING_JOB_NAME"] == completed_training.request["TrainingJobName"]
    assert env["TWIN_FLAG"] == "on"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint
    config = job_dir / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    assert all(isinstance(v, str) for v in hyperparameters.values())
    assert hyperparameters["n-estimators"] == "50"
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert (resources["current_host"], resources["hosts"]) == ("algo-1", ["algo-1"])
    channels = json.loads((config / "inputdataconfig.json").read_text())
    assert channels["train"]["ContentType"] == "text/csv"


def test_state_changes_are_reported_in_progress_then_completed(
    completed_training: CompletedTraining,
) -> None:
    assert completed_training.statuses == ["InProgress", "Completed"]


def test_start_sets_in_progress_before_returning(cloud: Cloud, runner: JobRunner) -> None:
    job = _start_training(cloud, runner, _training_request(cloud, "train_failure_file.py"))
    status_on_return = (job.training_job_status, job.secondary_status)
    runner.wait_idle(120)
    assert status_on_return == ("InProgress", "Starting")


def test_failure_file_written_by_the_script_becomes_the_failure_reason(
    cloud: Cloud, runner: JobRunner, recorder: Recorder
) -> None:
    request = _training_request(cloud, "train_failure_file.py")
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    assert described["FailureReason"] == "ValueError: label column 'nope' not found"
    assert "ModelArtifacts" not in described
    assert recorder.statuses(request["TrainingJobName"]) == ["InProgress", "Failed"]


def test_crashing_script_fails_with_the_tail_of_its_stderr(cloud: Cloud, runner: JobRunner) -> None:
    request = _training_request(cloud, "train_crash.py")
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    reason = described["FailureReason"]
    assert described["TrainingJobStatus"] == "Failed"
    assert reason.startswith("AlgorithmError: ")
    assert "Traceback (most recent call last)" in reason
    assert reason.endswith("ValueError: boom: the training channel is empty")
    assert len(reason) <= 1024


def test_missing_program_fails_the_job(cloud: Cloud, runner: JobRunner) -> None:
    request = _training_request(cloud, "no_such_script.py")
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: ")
    assert "no_such_script.py" in described["FailureReason"]


def test_missing_input_object_fails_with_a_clear_reason(cloud: Cloud, runner: JobRunner) -> None:
    missing = f"s3://{cloud.bucket}/datasets/v9/missing.csv"
    request = _training_request(
        cloud,
        "train_ok.py",
        train_uri=missing,
        hyperparameters={"n-estimators": "5", "label": "malignant"},
    )
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: No S3 objects found under S3 URL")
    assert missing in described["FailureReason"]
    timing = [t for t in runner.timings() if t["name"] == request["TrainingJobName"]]
    assert timing == [
        {
            "name": request["TrainingJobName"],
            "kind": "training",
            "seconds": None,
            "interruptions": 0,
            "status": "Failed",
        }
    ]


def test_a_key_whose_path_leaves_the_channel_directory_fails_the_job_and_writes_nothing(
    cloud: Cloud, runner: JobRunner, tmp_path: Path
) -> None:
    prefix = f"escape-{uuid.uuid4().hex[:8]}"
    cloud.s3.put_object(Bucket=cloud.bucket, Key=f"{prefix}/train.csv", Body=CSV.encode())
    cloud.s3.put_object(Bucket=cloud.bucket, Key=f"{prefix}/../../../pwned.py", Body=b"boom")
    listed = cloud.s3.list_objects_v2(Bucket=cloud.bucket, Prefix=prefix)["Contents"]
    keys = [item["Key"] for item in listed]
    assert f"{prefix}/../../../pwned.py" in keys, "S3 keeps the key as written"
    request = _training_request(
        cloud,
        "train_ok.py",
        train_uri=f"s3://{cloud.bucket}/{prefix}/",
        hyperparameters={"n-estimators": "5", "label": "malignant"},
    )
    _start_training(cloud, runner, request)
    assert runner.wait_idle(120)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert "would be written outside the input directory" in described["FailureReason"]
    assert "../../../pwned.py" in described["FailureReason"]
    assert not list(tmp_path.rglob("pwned.py")), "nothing was written anywhere under the runner"


def test_unsupported_image_fails_without_running(cloud: Cloud, runner: JobRunner) -> None:
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    request = _training_request(cloud, "train_ok.py", image=image)
    _start_training(cloud, runner, request)
    assert runner.wait_idle(60)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"ClientError: the twin runs only sagemaker-scikit-learn images; got {image}"
    )


def _gate_request(cloud: Cloud, gate: Path, **overrides: Any) -> dict[str, Any]:
    return _training_request(
        cloud, "train_gate.py", hyperparameters={"gate-dir": json.dumps(str(gate))}, **overrides
    )


def test_at_most_max_parallel_jobs_run_and_the_rest_wait_queued(
    cloud: Cloud, runner: JobRunner, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    requests = [_gate_request(cloud, gate) for _ in range(3)]
    jobs = [_start_training(cloud, runner, r) for r in requests]
    try:
        _wait_until(lambda: len(list(gate.glob("started-*"))) >= 2)
        started = {p.name.removeprefix("started-") for p in gate.glob("started-*")}
        queued = [j for j in jobs if j.training_job_name not in started]
        # Both slots are held by blocked scripts, so the third cannot have been dequeued.
        assert len(started) == 2 and len(queued) == 1
        described = _describe(cloud, queued[0].training_job_name)
        assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
            "InProgress",
            "Starting",
        )
        assert "TrainingStartTime" not in described
    finally:
        (gate / "open").write_text("")
    assert runner.wait_idle(180)
    assert [j.training_job_status for j in jobs] == ["Completed"] * 3
    assert max(int(p.read_text()) for p in gate.glob("started-*")) <= 2


def test_stop_kills_the_running_script_and_keeps_its_saved_model(
    cloud: Cloud, runner: JobRunner, recorder: Recorder, tmp_path: Path
) -> None:
    request = _gate_request(cloud, tmp_path)
    name = request["TrainingJobName"]
    _start_training(cloud, runner, request)
    _wait_until(lambda: (tmp_path / f"started-{name}").exists())
    runner.stop(name)
    assert runner.wait_idle(60)
    described = _describe(cloud, name)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert recorder.statuses(name) == ["InProgress", "Stopping", "Stopped"]
    model = _tar_members(cloud, described["ModelArtifacts"]["S3ModelArtifacts"])
    assert model == {"partial.txt": b"saved before the gate"}
    assert not (tmp_path / f"ended-{name}").exists()


def test_stopping_a_queued_job_stops_it_without_running_it(
    cloud: Cloud, tmp_path: Path, recorder: Recorder
) -> None:
    single = _runner(cloud, tmp_path / "jobs", recorder, max_parallel=1, stop_grace_seconds=2.0)
    try:
        running, queued = _gate_request(cloud, tmp_path), _gate_request(cloud, tmp_path)
        _start_training(cloud, single, running)
        _start_training(cloud, single, queued)
        _wait_until(lambda: (tmp_path / f"started-{running['TrainingJobName']}").exists())
        single.stop(queued["TrainingJobName"])
        (tmp_path / "open").write_text("")
        assert single.wait_idle(60)
    finally:
        single.uninstall()
    assert recorder.statuses(queued["TrainingJobName"]) == ["InProgress", "Stopping", "Stopped"]
    assert recorder.statuses(running["TrainingJobName"]) == ["InProgress", "Completed"]
    assert not (tmp_path / f"started-{queued['TrainingJobName']}").exists()
    timing = {t["name"]: t["seconds"] for t in single.timings()}
    assert timing[queued["TrainingJobName"]] is None


def test_max_runtime_exceeded_stops_the_job(cloud: Cloud, runner: JobRunner, tmp_path: Path):
    request = _gate_request(cloud, tmp_path, max_runtime=1)
    _start_training(cloud, runner, request)
    assert runner.wait_idle(60)
    described = _describe(cloud, request["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"


def _processing_request(
    cloud: Cloud, script: str, arguments: list[str], **overrides: Any
) -> dict[str, Any]:
    name = f"eval-{uuid.uuid4().hex[:10]}"
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": overrides.pop("image", IMAGE),
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            "ContainerArguments": arguments,
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{cloud.bucket}/code/v1/{script}",
                    "S3DataType": "S3Object",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{cloud.bucket}/datasets/v1",
                    "S3DataType": "S3Prefix",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{cloud.bucket}/evaluation/{name}",
                        "LocalPath": "/opt/ml/processing/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        **overrides,
    }


def _start_processing(cloud: Cloud, runner: JobRunner, request: dict[str, Any]) -> Any:
    cloud.sagemaker.create_processing_job(**json.loads(json.dumps(request)))
    job = sagemaker_backends[ACCOUNT][REGION].processing_jobs[request["ProcessingJobName"]]
    runner.start_processing(job, request=request)
    return job


def test_processing_stages_inputs_remaps_container_paths_and_uploads_outputs(
    cloud: Cloud, runner: JobRunner, recorder: Recorder, tmp_path: Path
) -> None:
    arguments = [
        "--data-dir",
        "/opt/ml/processing/input/data",
        "--output-dir=/opt/ml/processing/evaluation",
        "--label",
        "malignant",
    ]
    request = _processing_request(
        cloud, "process_ok.py", arguments, Environment={"EVAL_MODE": "strict"}
    )
    name = request["ProcessingJobName"]
    _start_processing(cloud, runner, request)
    assert runner.wait_idle(120)
    described = cloud.sagemaker.describe_processing_job(ProcessingJobName=name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ProcessingEndTime"] >= described["ProcessingStartTime"]
    assert described["Environment"] == {"EVAL_MODE": "strict"}
    prefix = f"evaluation/{name}/"
    listed = cloud.s3.list_objects_v2(Bucket=cloud.bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        prefix + "evaluation.json",
        prefix + "nested/note.txt",
    ]
    report = json.loads(
        cloud.s3.get_object(Bucket=cloud.bucket, Key=prefix + "evaluation.json")["Body"].read()
    )
    job_dir = tmp_path / f"processing.{name}"
    assert report == {
        "rows": 6,
        "label": "malignant",
        "mode": "strict",
        "data_dir": str(job_dir / "processing" / "input" / "data"),
    }
    assert recorder.statuses(name) == ["InProgress", "Completed"]


def test_processing_failure_reports_the_containers_exit_message(
    cloud: Cloud, runner: JobRunner
) -> None:
    request = _processing_request(
        cloud, "process_fail.py", ["--message-file", "/opt/ml/output/message"]
    )
    _start_processing(cloud, runner, request)
    assert runner.wait_idle(120)
    described = cloud.sagemaker.describe_processing_job(
        ProcessingJobName=request["ProcessingJobName"]
    )
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"] == "AlgorithmError: champion model is unreadable"
    assert described["ExitMessage"] == "champion model is unreadable"


def test_processing_with_unsupported_image_fails(cloud: Cloud, runner: JobRunner) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-image:latest"
    request = _processing_request(cloud, "process_ok.py", ["--label", "x"], image=image)
    _start_processing(cloud, runner, request)
    assert runner.wait_idle(60)
    described = cloud.sagemaker.describe_processing_job(
        ProcessingJobName=request["ProcessingJobName"]
    )
    assert described["ProcessingJobStatus"] == "Failed"
    assert (
        "the twin runs only sagemaker-scikit-learn images; got " + image
        in (described["FailureReason"])
    )


def test_runner_refuses_a_non_loopback_endpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        JobRunner(lambda: None, tmp_path, "http://10.0.0.1:5000", {})


def test_moto_job_objects_have_the_attributes_the_runner_relies_on(cloud: Cloud) -> None:
    """Contract with moto 5.2.5 internals (see the docstring of sagemaker/jobs/runner.py)."""
    request = _training_request(cloud, "train_ok.py")
    cloud.sagemaker.create_training_job(**request)
    training = sagemaker_backends[ACCOUNT][REGION].training_jobs[request["TrainingJobName"]]
    for attribute in (
        "training_job_name",
        "arn",
        "hyper_parameters",
        "algorithm_specification",
        "input_data_config",
        "output_data_config",
        "resource_config",
        "stopping_condition",
        "training_job_status",
        "secondary_status",
        "secondary_status_transitions",
        "model_artifacts",
        "final_metric_data_list",
        "training_start_time",
        "training_end_time",
        "last_modified_time",
    ):
        assert hasattr(training, attribute), attribute
    # moto drops the request's MetricDefinitions for a placeholder: the runner must restore them.
    assert training.algorithm_specification["MetricDefinitions"][0]["Name"] == "test:dcg"
    training.failure_reason = "probe"
    assert _describe(cloud, request["TrainingJobName"])["FailureReason"] == "probe"
    processing_request = _processing_request(cloud, "process_ok.py", ["--label", "x"])
    cloud.sagemaker.create_processing_job(**processing_request)
    processing = sagemaker_backends[ACCOUNT][REGION].processing_jobs[
        processing_request["ProcessingJobName"]
    ]
    for attribute in (
        "processing_job_name",
        "arn",
        "app_specification",
        "processing_inputs",
        "processing_output_config",
        "stopping_condition",
        "processing_job_status",
        "processing_end_time",
    ):
        assert hasattr(processing, attribute), attribute
    assert not hasattr(processing, "environment")  # moto drops it: the runner takes the request
    processing.exit_message = "probe"
    described = cloud.sagemaker.describe_processing_job(
        ProcessingJobName=processing_request["ProcessingJobName"]
    )
    assert described["ExitMessage"] == "probe"
