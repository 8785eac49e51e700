"""One line per adapter in a handler: each factory wires an adapter to the shared client.

Clients are created on first use and kept for the warm container (`adapters.client`), so a
factory costs nothing after the first invocation. Settings are typed by the one attribute a
factory reads, which every function's settings model that needs the adapter declares.
"""

from typing import Protocol

from . import client, resource
from .autoscaling import ScalableTargets
from .bus import EventBus
from .endpoints import Endpoints
from .executions import Executions
from .ledger import Ledger
from .metrics import EndpointMetrics, MetricPublisher
from .notifier import Notifier
from .registry import ModelRegistry
from .s3 import S3Store
from .schedules import Schedules


class HasPackageGroup(Protocol):
    @property
    def model_package_group(self) -> str: ...


class HasLedgerTable(Protocol):
    @property
    def ledger_table(self) -> str: ...


class HasTopic(Protocol):
    @property
    def topic_arn(self) -> str: ...


def registry(settings: HasPackageGroup) -> ModelRegistry:
    return ModelRegistry(client("sagemaker"), settings.model_package_group)


def ledger(settings: HasLedgerTable) -> Ledger:
    return Ledger(resource("dynamodb").Table(settings.ledger_table))


def notifier(settings: HasTopic) -> Notifier:
    return Notifier(client("sns"), settings.topic_arn)


def s3_store() -> S3Store:
    return S3Store(client("s3"))


def endpoints(invoke: bool = False) -> Endpoints:
    """`invoke`: also the sagemaker-runtime client InvokeEndpoint needs (only SmokeTest)."""
    return Endpoints(client("sagemaker"), client("sagemaker-runtime") if invoke else None)


def endpoint_metrics(endpoint_name: str) -> EndpointMetrics:
    return EndpointMetrics(client("cloudwatch"), endpoint_name)


def executions() -> Executions:
    return Executions(client("stepfunctions"))


def event_bus(bus_name: str) -> EventBus:
    return EventBus(client("events"), bus_name)


def metric_publisher(namespace: str) -> MetricPublisher:
    return MetricPublisher(client("cloudwatch"), namespace)


def schedules(group: str) -> Schedules:
    return Schedules(client("scheduler"), group)


def scalable_targets() -> ScalableTargets:
    return ScalableTargets(client("application-autoscaling"))
