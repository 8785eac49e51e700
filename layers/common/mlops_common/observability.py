"""The one logger, tracer and metrics of every function.

The service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set once in the template's Globals.

The X-Ray SDK is loaded only when tracing is on. Powertools' Tracer loads it even when its own
rule turns tracing off (POWERTOOLS_TRACE_DISABLED, or outside Lambda: the twin, the tests),
which costs every such cold start ~25 ms; then the tracer gets `Untraced` instead, a provider
whose subsegments record nothing, as the disabled X-Ray recorder's do.
"""

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


class Untraced(BaseProvider, BaseSegment):
    """A tracing provider that records nothing; it is also each of its subsegments."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator["Untraced"]:
        yield self

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncIterator["Untraced"]:
        yield self

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


def _tracing_off() -> bool:
    """Powertools' own rule (the version is pinned in layers/common/requirements.in)."""
    return bool(Tracer._is_tracer_disabled())


logger = Logger()
tracer = Tracer(disabled=True, provider=Untraced()) if _tracing_off() else Tracer()
metrics = Metrics()
