"""CloudFormation resource creators for EventBridge Scheduler (CloudFormation template
reference, AWS::Scheduler::Schedule and AWS::Scheduler::ScheduleGroup): the CreateSchedule and
CreateScheduleGroup calls CloudFormation would make. Ref is the name; GetAtt gives Arn (and a
group's State). Targets, retry policies and dead-letter queues keep the API's shapes, which the
template reference uses too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_SCHEDULE_FIELDS = (
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "GroupName",
    "KmsKeyArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "State",
    "Target",
    "ActionAfterCompletion",
)


class SchedulerResources:
    """A Provisioner mixin: it sets `_client`, and ServiceResources gives `_name`."""

    _client: Callable[[str], Any]
    _name: Callable[..., str]

    def _AWS_Scheduler_ScheduleGroup(self, stack, logical, props, _):
        name = props.get("Name") or self._name(stack, logical)
        request: dict[str, Any] = {"Name": name}
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        arn = self._client("scheduler").create_schedule_group(**request)["ScheduleGroupArn"]
        return name, {"Arn": arn, "State": "ACTIVE"}

    def _AWS_Scheduler_Schedule(self, stack, logical, props, _):
        name = props.get("Name") or self._name(stack, logical)
        request = {key: props[key] for key in _SCHEDULE_FIELDS if key in props}
        target = dict(request.get("Target") or {})
        policy = target.get("RetryPolicy")
        if policy:  # Number properties resolve to strings, as in CloudFormation
            target["RetryPolicy"] = {k: int(v) for k, v in policy.items()}
        request["Target"] = target
        window = dict(request.get("FlexibleTimeWindow") or {"Mode": "OFF"})
        if "MaximumWindowInMinutes" in window:
            window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
        request["FlexibleTimeWindow"] = window
        arn = self._client("scheduler").create_schedule(Name=name, **request)["ScheduleArn"]
        return name, {"Arn": arn}
