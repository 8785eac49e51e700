"""Target tracking's decision, as the twin models it ("Target tracking scaling policies for
Application Auto Scaling", Application Auto Scaling user guide: the policy keeps the metric at
the target, scales out quickly and in gradually, and honours the cooldowns).

The metric, SageMakerVariantInvocationsPerInstance, is a variant's Invocations per minute
divided by its instance count ("Define a scaling policy", SageMaker developer guide), so the
periods are one minute of the AWS clock. What the twin models:
- scale out when the last HIGH_PERIODS periods were all above the target, to
  ceil(current x metric / target) with the last period's metric;
- scale in when the last LOW_PERIODS periods were all below LOW_FACTOR x target, to
  ceil(current x metric / target) with the busiest of those periods (never below what any of
  them needed);
- only periods that began after the last scaling activity ended count (they saw the current
  instance count);
- no scale-out within ScaleOutCooldown of the last scale-out, no scale-in within
  ScaleInCooldown of the last scaling activity;
- always within [MinCapacity, MaxCapacity]; a count outside that range (a new registration) is
  brought into it at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PERIOD_SECONDS = 60
HIGH_PERIODS = 3
LOW_PERIODS = 15
LOW_FACTOR = 0.9


@dataclass(frozen=True)
class Decision:
    desired: int
    cause: str


def proportional(current: int, metric: float, target: float) -> int:
    """The capacity that brings the per-instance metric back to the target (rounded up)."""
    return math.ceil(current * metric / target - 1e-9) if metric > 0 else 0


def decide(
    current: int,
    periods: list[float],
    target: float,
    bounds: tuple[int, int],
    since_scale_out: float | None,
    since_activity: float | None,
    cooldowns: tuple[int, int],
) -> Decision | None:
    """The scaling activity to start now, or None. `periods`: the metric of each complete
    period since the last activity, oldest first; `since_*`: AWS seconds since the last
    scale-out and the last activity (None: never); `cooldowns`: (scale out, scale in)."""
    low, high = bounds
    if current < low or current > high:
        wanted = min(max(current, low), high)
        return Decision(wanted, f"the count {current} is outside [{low}, {high}]")
    out_cooldown, in_cooldown = cooldowns
    recent = periods[-HIGH_PERIODS:]
    if len(recent) == HIGH_PERIODS and all(value > target for value in recent):
        if since_scale_out is None or since_scale_out >= out_cooldown:
            wanted = min(high, max(current + 1, proportional(current, recent[-1], target)))
            if wanted > current:
                return Decision(
                    wanted,
                    f"{METRIC_TEXT} {recent[-1]:g} above the target {target:g} for "
                    f"{HIGH_PERIODS} periods",
                )
        return None
    quiet = periods[-LOW_PERIODS:]
    cooled = since_activity is None or since_activity >= in_cooldown
    if cooled and len(quiet) == LOW_PERIODS and all(v < LOW_FACTOR * target for v in quiet):
        wanted = max(low, proportional(current, max(quiet), target))
        if wanted < current:
            return Decision(
                wanted,
                f"{METRIC_TEXT} at most {max(quiet):g}, below {LOW_FACTOR:g} x the target "
                f"{target:g} for {LOW_PERIODS} periods",
            )
    return None


METRIC_TEXT = "SageMakerVariantInvocationsPerInstance"
