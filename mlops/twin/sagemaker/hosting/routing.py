"""Traffic routing by variant weight, and the shadow-variant comparison record.

AWS: a variant's share of traffic is its weight divided by the sum of all weights
(ProductionVariant.InitialVariantWeight docs); TargetVariant overrides the weights.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from mlops.twin.sagemaker.hosting.errors import RuntimeValidationError
from mlops.twin.sagemaker.hosting.moto_store import VariantSpec


def choose_variant(variants: list[VariantSpec], rng: random.Random) -> VariantSpec:
    total = sum(max(0.0, v.current_weight) for v in variants)
    if total <= 0:
        raise RuntimeValidationError("All production variants of the endpoint have weight 0.")
    point = rng.random() * total
    for variant in variants:
        point -= max(0.0, variant.current_weight)
        if point < 0:
            return variant
    return variants[-1]  # float rounding at the upper edge


class SeededRandom:
    """A lock around random.Random so concurrent invocations draw a reproducible sequence."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def random(self) -> float:
        with self._lock:
            return self._rng.random()


@dataclass
class ShadowStats:
    """What one shadow variant did with its copies, next to production's answers."""

    count: int = 0
    errors: int = 0
    latency_us_total: int = 0
    latency_us_max: int = 0
    production_latency_us_total: int = 0
    compared: int = 0
    agreed: int = 0

    def record(
        self,
        ok: bool,
        latency_us: int,
        production_latency_us: int,
        production_ok: bool,
        same_answer: bool,
    ) -> None:
        self.count += 1
        self.errors += 0 if ok else 1
        self.latency_us_total += latency_us
        self.latency_us_max = max(self.latency_us_max, latency_us)
        self.production_latency_us_total += production_latency_us
        if ok and production_ok:
            self.compared += 1
            self.agreed += 1 if same_answer else 0

    def as_dict(self) -> dict[str, float | int | None]:
        mean = (lambda total: total / self.count / 1000.0) if self.count else (lambda _: None)
        return {
            "count": self.count,
            "errors": self.errors,
            "mean_latency_ms": mean(self.latency_us_total),
            "max_latency_ms": self.latency_us_max / 1000.0,
            "production_mean_latency_ms": mean(self.production_latency_us_total),
            "compared": self.compared,
            "agreement": self.agreed / self.compared if self.compared else None,
        }
