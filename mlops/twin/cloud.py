"""The local cloud: moto behind the gateway on 127.0.0.1, with every seam installed.

`start()` enters each seam into one `contextlib.ExitStack` (mlops/twin/seam.py); `stop()`
closes it, so seams uninstall in the reverse order: the alarm thread, model servers, jobs and
Lambda workers (which still call the twin) before the HTTP server; event delivery after it;
the patches of moto last.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from mlops.twin.applicationautoscaling import DeregisterDeletesPolicies, TargetTracking
from mlops.twin.applicationautoscaling import api as scaling_api
from mlops.twin.aws.arns import Arn
from mlops.twin.cloudformation import api as cloudformation_api
from mlops.twin.cloudformation.stacks import StackRecords
from mlops.twin.cloudwatch import metrics
from mlops.twin.cloudwatch.alarms import AlarmEvaluator
from mlops.twin.cloudwatch.history import AlarmHistory
from mlops.twin.codebuild import api as codebuild_api
from mlops.twin.codebuild.projects import CodeBuildProjectsSeam
from mlops.twin.codebuild.runner import BuildRunner
from mlops.twin.codepipeline.delivery import (
    add_deploy_actions,
    connect_delivery,
    install_delivery,
)
from mlops.twin.codepipeline.stack_action import provisioner_factory
from mlops.twin.events import patterns as event_patterns
from mlops.twin.events.delivery import EventDelivery
from mlops.twin.events.put_events import ClientPutEventsSeam
from mlops.twin.events.replay import ReplaySeam
from mlops.twin.gateway import Gateway
from mlops.twin.lambda_ import api as lambda_api
from mlops.twin.lambda_.runtime import LambdaRuntime
from mlops.twin.s3.bucket_policy import BucketPolicySeam
from mlops.twin.s3.notifications import S3EventsSeam
from mlops.twin.sagemaker import api as registry_api
from mlops.twin.sagemaker.events import SageMakerEvents
from mlops.twin.sagemaker.hosting import api as hosting_api
from mlops.twin.sagemaker.hosting.endpoints import Hosting
from mlops.twin.sagemaker.jobs import api as jobs_api
from mlops.twin.sagemaker.jobs.runner import JobRunner
from mlops.twin.sagemaker.registry import RegistrySeam
from mlops.twin.scheduler.runner import SchedulerSeam
from mlops.twin.seam import ItemPatch, Patch, Patches
from mlops.twin.stepfunctions.executions import ExecutionsSeam
from mlops.twin.stepfunctions.patches import StepFunctionsSeam

ACCOUNT = "123456789012"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The twin's clock: real seconds per AWS second, for deployment bakes, termination waits, alarm
# periods and rate() schedules (Wait states, event retries, at() and cron() schedules keep
# real time). At 1/100 the stack's 300 s bakes last 3 s and its 60 s alarm periods 0.6 s.
TIME_SCALE = 0.01


def describe_clock(time_scale: float) -> str:
    """ "1/100 of AWS time (a 300 s bake lasts 3 s, a 60 s alarm period 0.6 s)", as start-up
    messages print it."""
    fraction = Fraction(time_scale).limit_denominator(10_000)
    return (
        f"{fraction} of AWS time (a 300 s bake lasts {300 * time_scale:g} s, "
        f"a 60 s alarm period {60 * time_scale:g} s)"
    )


class LocalCloud:
    """Start with `start()`; `client(service)` gives a boto3 client bound to it."""

    def __init__(
        self,
        port: int = 0,
        region: str = "us-east-1",
        work_dir: Path | None = None,
        time_scale: float = TIME_SCALE,
        quiet: bool = True,
    ) -> None:
        self.region = region
        self.account = ACCOUNT
        self._requested_port = port
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="mlops-twin-"))
        self.time_scale = time_scale
        self.quiet = quiet
        self.lambda_logs: list[tuple[str, str]] = []
        self._seams = ExitStack()

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalCloud:
        with ExitStack() as seams:
            if self._own_work_dir:
                seams.callback(shutil.rmtree, self.work_dir, ignore_errors=True)
            self._configure_moto()
            for patches in (
                StepFunctionsSeam(),
                ExecutionsSeam(),
                S3EventsSeam(),
                BucketPolicySeam(),
                ClientPutEventsSeam(),
                RegistrySeam(),
                CodeBuildProjectsSeam(),
            ):
                seams.enter_context(patches)
            self.alarm_history = seams.enter_context(AlarmHistory())
            # EventBridge retries by its own RetryPolicy; botocore must not retry underneath it.
            self.events = seams.enter_context(
                EventDelivery(self._single_attempt_client, retry_base_delay_s=0.2)
            )
            self.replays = seams.enter_context(ReplaySeam())  # stops before delivery does
            # No CORS: moto builds each service's app on its first request, without flask-cors
            # while this applies (door.py: the twin is no door for web pages).
            seams.enter_context(Patches(Patch(werkzeug_app, "DISABLE_GLOBAL_CORS", True)))
            # DescribeStacks and ListStackResources of the stacks provisioned into this cloud.
            self.stacks = seams.enter_context(StackRecords())
            gateway = Gateway(DomainDispatcherApplication(create_backend_app))
            server = seams.enter_context(_Server(gateway, self._requested_port))
            self.port = server.port
            # moto's ASL interpreter calls services at http://localhost:$MOTO_PORT (server mode).
            seams.enter_context(Patches(ItemPatch(os.environ, "MOTO_PORT", str(self.port))))
            self._install_services(seams)
            self._connect(gateway)
            server.serve()
            self._seams = seams.pop_all()
        return self

    def stop(self) -> None:
        self._seams.close()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    @property
    def lambdas(self) -> LambdaRuntime:
        """The Lambda runtime: its functions, their stats, and crash injection
        (`cloud.lambdas.crash_after("fn", "dynamodb.PutItem", times=1)`)."""
        return self.runtime

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    # ---------------------------------------------------------------- wiring

    def _configure_moto(self) -> None:
        if self.quiet:  # one access-log line per API call drowns the demo's own output
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            # moto's interpreter logs every failed execution's whole state; the twin reports it
            logging.getLogger("moto").setLevel(logging.CRITICAL)
        # moto's backends are process-wide: each local cloud starts from an empty account.
        moto_api_backend.reset()

    def _install_services(self, seams: ExitStack) -> None:
        base_env = {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        self.runtime = seams.enter_context(
            LambdaRuntime(base_env, log_sink=self._lambda_log, dead_letter=self._dead_letter)
        )
        self.sagemaker_events = SageMakerEvents(self.account, self.region)
        self.jobs = seams.enter_context(
            JobRunner(
                lambda: self.client("s3"),
                self.work_dir / "jobs",
                self.url,
                base_env,
                on_state_change=self.sagemaker_events.job_changed,
                time_scale=self.time_scale,  # spot capacity waits
            )
        )
        self.hosting = seams.enter_context(
            Hosting(
                self.account,
                self.region,
                lambda: self.client("s3"),
                self.work_dir / "endpoints",
                base_env,
                on_endpoint_change=self.sagemaker_events.endpoint_changed,
                put_metrics=lambda namespace, data: metrics.put_metric_data(
                    self.client("cloudwatch"), namespace, data
                ),
                alarm_state=lambda name: metrics.alarm_state(self.client("cloudwatch"), name),
                time_scale=self.time_scale,
            )
        )
        # Target tracking on the invocation metrics hosting publishes: it changes instance
        # counts through hosting, so it stops before hosting does (applicationautoscaling/).
        seams.enter_context(DeregisterDeletesPolicies(self.account, self.region))
        self.scaling = seams.enter_context(
            TargetTracking(self.account, self.region, self.hosting, self.time_scale)
        )
        self.builds = seams.enter_context(
            BuildRunner(
                self.account,
                self.region,
                self.client,
                self.work_dir / "codebuild",
                self.url,
                base_env,
            )
        )
        # Connected repositories, pipeline executions and their triggers (codepipeline/).
        self.delivery = install_delivery(
            seams, self.account, self.region, self.client, self.builds, self.work_dir, self.port
        )
        add_deploy_actions(  # CloudFormation deploy and Step Functions invoke actions
            self.delivery,
            self.stacks,
            provisioner_factory(self.client, self.runtime, self.account, self.region),
            self.work_dir / "pipeline-actions",
        )
        # Schedules fired to their targets: at() and cron() on the wall clock, rate() on the
        # twin's clock (scheduler/runner.py).
        self.scheduler = seams.enter_context(
            SchedulerSeam(self.account, self.region, self._single_attempt_client, self.time_scale)
        )
        # CloudWatch alarms on the metrics hosting publishes, on the twin's compressed clock,
        # judged up to the moment hosting has published everything (cloudwatch/cadence.py).
        self.alarms = seams.enter_context(
            AlarmEvaluator(
                self.account,
                self.region,
                time_scale=self.time_scale,
                history=self.alarm_history,
                settled_until=[self.hosting.metrics_published_until],
            )
        )

    def _connect(self, gateway: Gateway) -> None:
        lambda_api.connect(gateway, self.runtime)
        jobs_api.connect(gateway, self.jobs, self.account, self.region)
        hosting_api.connect(gateway, self.hosting)
        scaling_api.connect(gateway, self.scaling)
        registry_api.connect(gateway, self.sagemaker_events)
        codebuild_api.connect(gateway, self.builds)
        connect_delivery(gateway, self.delivery)
        cloudformation_api.connect(gateway, self.stacks)
        event_patterns.connect(gateway)

    def _single_attempt_client(self, service: str) -> Any:
        return self.client(service, config=Config(retries={"total_max_attempts": 1}))

    def _lambda_log(self, function: str, lines: list[str]) -> None:
        self.lambda_logs.extend((function, line) for line in lines)

    def _dead_letter(self, queue_arn: str, body: str, attributes: dict[str, str]) -> None:
        """A failed asynchronous invocation's event, to its function's dead-letter queue."""
        queue = Arn.parse(queue_arn)
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue.resource, QueueOwnerAWSAccountId=queue.account)
        sqs.send_message(
            QueueUrl=url["QueueUrl"],
            MessageBody=body,
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )


class _Server:
    """The gateway's HTTP server: bound on entering (the port is known), serving once every
    route is connected, shut down on exit."""

    def __init__(self, gateway: Gateway, port: int) -> None:
        self._gateway, self._requested_port = gateway, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def __enter__(self) -> _Server:
        self._server = make_server("127.0.0.1", self._requested_port, self._gateway, threaded=True)
        return self

    def serve(self) -> None:
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="twin-http", daemon=True
        )
        self._thread.start()

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()
