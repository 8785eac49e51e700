"""The local cloud: moto behind the gateway on 127.0.0.1, with every seam wired in."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from mlops.twin.cloudwatch.alarms import AlarmEvaluator
from mlops.twin.events.delivery import EventDelivery
from mlops.twin.events.replay import install_replay_seam, uninstall_replay_seam
from mlops.twin.gateway import AwsError, Gateway, json_response, lambda_log_header
from mlops.twin.lambda_.runtime import InvalidRequestContent, LambdaRuntime
from mlops.twin.s3.notifications import install_s3_seams, uninstall_s3_seams
from mlops.twin.sagemaker.events import SageMakerEvents
from mlops.twin.sagemaker.hosting import Hosting, HostingError, keep_shadow_variants
from mlops.twin.sagemaker.jobs.runner import JobRunner
from mlops.twin.sagemaker.registry import install_registry_seam, uninstall_registry_seam
from mlops.twin.stepfunctions.patches import install_sfn_seams

ACCOUNT = "123456789012"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalCloud:
    """Start with `start()`; `client(service)` gives a boto3 client bound to it."""

    def __init__(
        self,
        port: int = 0,
        region: str = "us-east-1",
        work_dir: Path | None = None,
        time_scale: float = 0.01,
        quiet: bool = True,
    ) -> None:
        self.region = region
        self.account = ACCOUNT
        self._requested_port = port
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="mlops-twin-"))
        # One compressed clock for deployment bakes and alarm periods: at 0.05 a 60 s bake or
        # alarm period lasts 3 s, still longer than the hosting metrics' 1 s flush.
        self.time_scale = time_scale
        self.quiet = quiet
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.lambda_logs: list[tuple[str, str]] = []

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalCloud:
        if self.quiet:  # one access-log line per API call drowns the demo's own output
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            # moto's interpreter logs every failed execution's whole state; the twin reports it
            logging.getLogger("moto").setLevel(logging.CRITICAL)
        # moto's backends are process-wide: each local cloud starts from an empty account.
        moto_api_backend.reset()
        gateway = Gateway(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", self._requested_port, gateway, threaded=True)
        self.port = self._server.server_address[1]
        # moto's ASL interpreter calls services at http://localhost:$MOTO_PORT (server mode).
        os.environ["MOTO_PORT"] = str(self.port)
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        base_env = {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        self.events = EventDelivery(self._single_attempt_client, retry_base_delay_s=0.2)
        self.runtime = LambdaRuntime(base_env, log_sink=self._lambda_log)
        self.sagemaker_events = SageMakerEvents(self.account, self.region)
        self.jobs = JobRunner(
            lambda: self.client("s3"),
            self.work_dir / "jobs",
            self.url,
            base_env,
            on_state_change=self.sagemaker_events.job_changed,
        )
        self.hosting = Hosting(
            self.account,
            self.region,
            lambda: self.client("s3"),
            self.work_dir / "endpoints",
            base_env,
            on_endpoint_change=self.sagemaker_events.endpoint_changed,
            put_metrics=self._put_metrics,
            alarm_state=self._alarm_state,
            time_scale=self.time_scale,
        )
        install_sfn_seams()
        self.events.install()
        # CloudWatch alarms on the metrics hosting publishes, on the twin's compressed clock.
        self.alarms = AlarmEvaluator(self.account, self.region, time_scale=self.time_scale)
        self.alarms.start()
        install_s3_seams()
        install_replay_seam()
        install_registry_seam()
        self._wire(gateway)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="twin-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Seams that still call the twin (metrics flush, job uploads) stop before the server.
        if hasattr(self, "alarms"):
            self.alarms.stop()
        for closer in ("hosting", "jobs", "runtime"):
            if hasattr(self, closer):
                getattr(self, closer).shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if hasattr(self, "events"):
            self.events.shutdown()
        uninstall_s3_seams()
        uninstall_replay_seam()
        uninstall_registry_seam()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def _single_attempt_client(self, service: str) -> Any:
        # EventBridge retries by its own RetryPolicy; botocore must not retry underneath it.
        return self.client(service, config=Config(retries={"total_max_attempts": 1}))

    # ---------------------------------------------------------------- wiring

    def _wire(self, gateway: Gateway) -> None:
        gateway.lambda_invoke = self._lambda_invoke
        gateway.runtime_invoke = self._runtime_invoke
        hosting_ops = {
            "CreateEndpoint": lambda r: self.hosting.create_endpoint(
                r["EndpointName"], r["EndpointConfigName"], r.get("Tags")
            ),
            "UpdateEndpoint": lambda r: self.hosting.update_endpoint(
                r["EndpointName"],
                r["EndpointConfigName"],
                r.get("DeploymentConfig"),
                r.get("RetainAllVariantProperties", False),
                r.get("RetainDeploymentConfig", False),
            ),
            "DescribeEndpoint": lambda r: self.hosting.describe_endpoint(r["EndpointName"]),
            "ListEndpoints": lambda r: {"Endpoints": self.hosting.list_endpoints()},
            "DeleteEndpoint": lambda r: self.hosting.delete_endpoint(r["EndpointName"]) or {},
            "UpdateEndpointWeightsAndCapacities": lambda r: (
                self.hosting.update_endpoint_weights_and_capacities(
                    r["EndpointName"], r["DesiredWeightsAndCapacities"]
                )
            ),
        }
        for op, call in hosting_ops.items():
            gateway.targets[f"SageMaker.{op}"] = self._json_op(call)
        gateway.after["SageMaker.CreateTrainingJob"] = self._training_created
        gateway.after["SageMaker.CreateProcessingJob"] = self._processing_created
        gateway.targets["SageMaker.StopTrainingJob"] = self._json_op(
            lambda r: self.jobs.stop(r["TrainingJobName"]) or {}
        )
        gateway.targets["SageMaker.StopProcessingJob"] = self._json_op(
            lambda r: self.jobs.stop(r["ProcessingJobName"]) or {}
        )
        # moto drops ShadowProductionVariants; hosting keeps them on moto's config record.
        gateway.after["SageMaker.CreateEndpointConfig"] = lambda request, _: keep_shadow_variants(
            self.account, self.region, request
        )
        gateway.after["SageMaker.CreateModelPackage"] = self.sagemaker_events.package_changed
        gateway.after["SageMaker.UpdateModelPackage"] = self.sagemaker_events.package_changed

    @staticmethod
    def _json_op(call: Any) -> Any:
        def handler(environ: dict[str, Any], body: bytes) -> tuple[int, dict, bytes]:
            try:
                return json_response(call(json.loads(body or b"{}")))
            except HostingError as exc:
                return _hosting_error(exc)

        return handler

    def _training_created(self, request: dict[str, Any], _response: dict[str, Any]) -> None:
        job = self._sagemaker_backend().training_jobs[request["TrainingJobName"]]
        self.jobs.start_training(job, request)

    def _processing_created(self, request: dict[str, Any], _response: dict[str, Any]) -> None:
        job = self._sagemaker_backend().processing_jobs[request["ProcessingJobName"]]
        self.jobs.start_processing(job, request)

    def _sagemaker_backend(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account][self.region]

    # ---------------------------------------------------------------- Lambda

    def _lambda_invoke(self, name: str, body: bytes, headers: dict[str, str]):
        if not self.runtime.has(name):
            raise AwsError("ResourceNotFoundException", f"Function not found: {name}", 404)
        try:
            result = self.runtime.invoke(
                name, body, headers.get("x-amz-invocation-type", "RequestResponse")
            )
        except InvalidRequestContent as exc:
            raise AwsError("InvalidRequestContentException", str(exc)) from exc
        out = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "X-Amzn-Requestid": result.request_id,
        }
        if result.function_error:
            out["X-Amz-Function-Error"] = result.function_error
        if headers.get("x-amz-log-type") == "Tail":
            out["X-Amz-Log-Result"] = lambda_log_header(result.log_tail)
        return result.status_code, out, result.payload

    def _lambda_log(self, function: str, lines: list[str]) -> None:
        self.lambda_logs.extend((function, line) for line in lines)

    # ---------------------------------------------------------------- hosting

    def _runtime_invoke(self, environ: dict[str, Any], body: bytes):
        name = environ["twin.endpoint"]
        try:
            return self.hosting.invoke(
                name,
                body,
                environ.get("CONTENT_TYPE") or "application/octet-stream",
                environ.get("HTTP_ACCEPT"),
                environ.get("HTTP_X_AMZN_SAGEMAKER_TARGET_VARIANT"),
                inference_id=environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"),
            )
        except HostingError as exc:
            return _hosting_error(exc)

    def _put_metrics(self, namespace: str, data: list[dict]) -> None:
        cloudwatch = self.client("cloudwatch")
        for start in range(0, len(data), 500):  # PutMetricData takes 1000 values at most
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])

    def _alarm_state(self, name: str) -> str:
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarms[0]["StateValue"] if alarms else "INSUFFICIENT_DATA"


def _hosting_error(exc: HostingError) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = json_response(exc.aws_error_document(), exc.http_status)
    return status, headers | {"X-Amzn-ErrorType": exc.code}, body
