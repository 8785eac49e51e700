"""The twin's SageMaker hosting: endpoints with real inference servers (the gateway's seam).

Endpoint configs and models stay in moto; endpoints live here. `time_scale` multiplies
every deployment wait (WaitIntervalInSeconds, TerminationWaitInSeconds,
MaximumExecutionTimeoutInSeconds, the weights rollout), e.g. 0.01 runs guardrails 100x
faster; server start-up and HTTP timeouts stay real time. Keyword-only extras:
`rng_seed` makes weighted routing reproducible; `startup_timeout` bounds how long a
server may take to pass /ping before the fleet counts as failed. Data capture (capture.py)
follows the serving fleet's endpoint config and uploads through `s3_client_factory`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.twin.aws.arns import arn
from mlops.twin.sagemaker.hosting.capture import sample_request
from mlops.twin.sagemaker.hosting.capture_writer import CaptureWriter
from mlops.twin.sagemaker.hosting.deployment import build_plan, set_desired_weights
from mlops.twin.sagemaker.hosting.errors import (
    HostingError,
    RuntimeValidationError,
    model_error,
    no_healthy_instance,
)
from mlops.twin.sagemaker.hosting.fleet import Fleet, Launch, start_fleet
from mlops.twin.sagemaker.hosting.healing import Supervisor
from mlops.twin.sagemaker.hosting.lifecycle import Deployer
from mlops.twin.sagemaker.hosting.metrics import MetricsBuffer, invocation_datums
from mlops.twin.sagemaker.hosting.moto_store import EndpointConfigSpec, load_endpoint_config
from mlops.twin.sagemaker.hosting.routing import SeededRandom
from mlops.twin.sagemaker.hosting.runtime import ShadowRunner, call_server, route
from mlops.twin.sagemaker.hosting.server_process import ModelServerProcess
from mlops.twin.sagemaker.hosting.state import Endpoint
from mlops.twin.seam import Seam

INVOKED_VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"  # botocore's locationName

log = logging.getLogger(__name__)


class Hosting(Seam):
    def __init__(
        self,
        account: str,
        region: str,
        s3_client_factory: Callable[[], Any],
        work_root: Path,
        base_env: dict[str, str],
        on_endpoint_change: Callable[[dict], None] | None = None,
        put_metrics: Callable[[str, list[dict]], None] | None = None,
        alarm_state: Callable[[str], str] | None = None,
        time_scale: float = 1.0,
        *,
        rng_seed: int | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.account, self.region = account, region
        self._s3_client_factory = s3_client_factory
        self._work_root = Path(work_root)
        self._base_env = dict(base_env)
        self._on_change = on_endpoint_change
        self._startup_timeout = startup_timeout
        self._lock = threading.RLock()
        self._endpoints: dict[str, Endpoint] = {}
        self._rng = SeededRandom(rng_seed)
        self._sampling_rng = SeededRandom(rng_seed)  # capture sampling leaves routing as it was
        self._metrics = MetricsBuffer(put_metrics, time_scale)
        self._capture = CaptureWriter(s3_client_factory)
        self._shadows = ShadowRunner(self._metrics, self._capture)
        self._generation = 0
        self._deployer = Deployer(
            self._lock, self._emit, self._start_fleet, alarm_state, time_scale, startup_timeout
        )
        self.supervisor = Supervisor(self._serving_fleets, startup_timeout)

    # -- helpers -------------------------------------------------------------------------
    def _arn(self, name: str) -> str:
        return arn("sagemaker", self.region, self.account, f"endpoint/{name}")

    def _get(self, name: str) -> Endpoint:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise HostingError(f'Could not find endpoint "{self._arn(name)}".')
        return endpoint

    def _emit(self, endpoint: Endpoint) -> None:
        with self._lock:
            snapshot = endpoint.describe()
        self._notify(snapshot)

    def _notify(self, snapshot: dict) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(snapshot)
        except Exception:  # a listener must never strand an endpoint mid-deployment
            log.exception("on_endpoint_change failed for %s", snapshot.get("EndpointName"))

    def _start_fleet(self, endpoint: Endpoint, config: EndpointConfigSpec) -> Fleet:
        with self._lock:
            self._generation += 1
            generation = self._generation
        return start_fleet(
            config,
            generation,
            self._work_root / endpoint.name,
            Launch(self._s3_client_factory, self._base_env, self._startup_timeout, endpoint.cancel),
        )

    def _serving_fleets(self) -> list[Fleet]:
        with self._lock:
            return [fleet for endpoint in self._endpoints.values() for fleet in endpoint.fleets()]

    def _run(self, endpoint: Endpoint, target: Callable[..., None], *args: Any) -> None:
        endpoint.worker = threading.Thread(
            target=target, args=(endpoint, *args), name=f"endpoint-{endpoint.name}", daemon=True
        )
        endpoint.worker.start()

    # -- control plane -------------------------------------------------------------------
    def create_endpoint(self, name: str, config_name: str, tags: list | None = None) -> dict:
        config = load_endpoint_config(self.account, self.region, config_name)
        with self._lock:
            if name in self._endpoints:
                raise HostingError(f'Cannot create already existing endpoint "{self._arn(name)}".')
            endpoint = Endpoint(name, self._arn(name), config_name, list(tags or []))
            self._endpoints[name] = endpoint
        self._run(endpoint, self._deployer.create, config)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        deployment_config: dict | None = None,
        retain_all_variant_properties: bool = False,
        retain_deployment_config: bool = False,
    ) -> dict:
        with self._lock:
            endpoint = self._get(name)
            if endpoint.status != "InService":
                verb = "failed" if endpoint.status == "Failed" else "in-progress"
                raise HostingError(f'Cannot update {verb} endpoint "{endpoint.arn}".')
            if config_name == endpoint.config_name:
                raise HostingError(
                    f'Cannot update endpoint "{endpoint.arn}" with the endpoint configuration '
                    f'it already uses ("{config_name}"); pass a new EndpointConfigName.'
                )
            blue = endpoint.blue
            assert blue is not None
        config = load_endpoint_config(self.account, self.region, config_name)
        if deployment_config is None and retain_deployment_config:
            deployment_config = endpoint.last_deployment_config
        plan = build_plan(deployment_config, config, blue.config)
        if retain_all_variant_properties:
            for variant in config.variants:
                current = blue.variant(variant.name)
                if current is not None:
                    variant.current_weight = variant.desired_weight = current.current_weight
                    variant.current_instance_count = current.current_instance_count
                    variant.desired_instance_count = current.current_instance_count
        with self._lock:
            if endpoint.status != "InService":  # lost a race with another call
                raise HostingError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.failure_reason = None
            endpoint.last_deployment_config = deployment_config or None
            endpoint.touch("Updating")
        self._run(endpoint, self._deployer.update, config, plan)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint_weights_and_capacities(self, name: str, desired: list[dict]) -> dict:
        with self._lock:
            endpoint = self._get(name)
            if endpoint.status != "InService" or endpoint.blue is None:
                raise HostingError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            set_desired_weights(endpoint.blue, desired, endpoint.arn)
            endpoint.touch("Updating")
        self._run(endpoint, self._deployer.update_weights, list(desired))
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, name: str) -> dict:
        with self._lock:
            return self._get(name).describe()

    def list_endpoints(self) -> list[dict]:
        with self._lock:
            endpoints = sorted(
                self._endpoints.values(), key=lambda e: e.creation_time, reverse=True
            )  # AWS default: CreationTime, Descending
            return [e.summary() for e in endpoints]

    def delete_endpoint(self, name: str) -> None:
        with self._lock:
            endpoint = self._get(name)
            endpoint.cancel.set()
            endpoint.touch("Deleting")
            fleets = endpoint.fleets()
            endpoint.blue = endpoint.green = None
            snapshot = endpoint.describe()
            del self._endpoints[name]
        self._shadows.forget_endpoint(name)
        self._notify(snapshot)
        for fleet in fleets:
            fleet.stop()
        self._capture.flush()  # the endpoint's last captured requests reach S3 now
        # An in-flight create/update stops the fleet it is still starting once it sees the
        # cancel; wait for that so no server outlives DeleteEndpoint.
        worker = endpoint.worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=self._startup_timeout)

    # -- runtime -------------------------------------------------------------------------
    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str,
        accept: str | None,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """sagemaker-runtime InvokeEndpoint; `inference_id` is its InferenceId header."""
        with self._lock:
            endpoint = self._endpoints.get(name)
            if endpoint is None or endpoint.blue is None or endpoint.status == "Failed":
                raise RuntimeValidationError(
                    f"Endpoint {name} of account {self.account} not found."
                )
            chosen = route(endpoint, self._rng, target_variant)
        # Sampled once per request: production and shadow records share this eventId.
        event = sample_request(chosen.capture, name, self._sampling_rng.random, inference_id)
        timed = call_server(chosen.server, body, content_type, accept)
        if timed.reply.status >= 500 and chosen.server not in self.servers(name):
            # The request met a fleet retired by a cutover in the meantime. AWS drains such
            # instances; the twin re-routes the request once to the fleet now serving.
            with self._lock:
                chosen = route(endpoint, self._rng, target_variant)
            timed = call_server(chosen.server, body, content_type, accept)
        if not timed.reached:  # its process is gone: unhealthy until replaced (healing.py)
            chosen.fleet.mark_unhealthy(chosen.server)
            self.supervisor.wake()
            raise no_healthy_instance(name, chosen.variant_name)
        reply = timed.reply
        self._metrics.add(
            invocation_datums(
                name,
                chosen.variant_name,
                reply.status,
                reply.model_latency_us,
                timed.overhead_us,
                chosen.green_config,
            )
        )
        if event is not None and reply.status < 400:  # failed requests: see capture.py
            self._capture.record(
                event, chosen.variant_name, body, content_type, reply.body, reply.content_type
            )
        self._shadows.submit(name, chosen.shadows, body, content_type, accept, timed, event)
        if reply.status >= 400:
            raise model_error(reply.status, reply.body, name, self.account, self.region)
        headers = {"Content-Type": reply.content_type, INVOKED_VARIANT_HEADER: chosen.variant_name}
        return 200, headers, reply.body

    # -- observation and lifecycle ------------------------------------------------------
    def shadow_stats(self, name: str) -> dict[str, dict]:
        """Per shadow variant: count, errors, latencies, and agreement with production."""
        return self._shadows.stats(name)

    def metrics_published_until(self) -> datetime | None:
        """Every invocation datapoint made before this moment is in CloudWatch."""
        return self._metrics.published_until()

    def servers(self, name: str) -> list[ModelServerProcess]:
        """The endpoint's running server processes (blue and green fleets)."""
        with self._lock:
            return [s for fleet in self._get(name).fleets() for s in fleet.all_servers()]

    def wait_until_settled(self, name: str, timeout: float = 120.0) -> dict:
        """Block until the endpoint's current operation finishes; return DescribeEndpoint."""
        with self._lock:
            worker = self._get(name).worker
        if worker is not None:
            worker.join(timeout)
        return self.describe_endpoint(name)

    def quiesce(self, timeout: float = 30.0) -> None:
        """Let in-flight shadow copies finish, then publish pending metrics and captures."""
        self._shadows.drain(timeout)
        self._metrics.flush()
        self._capture.flush()

    def install(self) -> None:
        """Watch the model servers (an endpoint's servers start on CreateEndpoint)."""
        self.supervisor.start()

    def uninstall(self) -> None:
        """Stop every endpoint's servers, then publish what metrics and captures remain."""
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
            for endpoint in endpoints:
                endpoint.cancel.set()
        for endpoint in endpoints:
            for fleet in endpoint.fleets():
                fleet.stop()
            if endpoint.worker is not None:
                endpoint.worker.join(timeout=30)
        self.supervisor.stop()  # after the fleets stopped: replacements under way give up
        self._shadows.close()
        self._capture.close()
        self._metrics.close()
