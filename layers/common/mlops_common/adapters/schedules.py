"""EventBridge Scheduler: one-time schedules of one schedule group (the stack's).

`upsert_one_time` creates the schedule or, when it exists, replaces it (UpdateSchedule replaces
every field: "UpdateSchedule", EventBridge Scheduler API reference). A schedule created or
deleted in between (two writers, or ActionAfterCompletion DELETE after it fired) is answered by
trying the other call: ResourceNotFoundException on update creates, ConflictException on
create updates.
"""

from typing import Any

#: Attempts of the create/update dance before giving up (each loser of a race tries again).
ATTEMPTS = 4


class Schedules:
    def __init__(self, scheduler_client: Any, group: str) -> None:
        self._scheduler, self.group = scheduler_client, group

    def upsert_one_time(self, name: str, at: str, target: dict[str, Any]) -> str:
        """Schedule `target` once at `at` (yyyy-mm-ddThh:mm:ss, UTC); "created" or "updated".
        The schedule deletes itself after its invocation (ActionAfterCompletion DELETE) and
        fires on time (FlexibleTimeWindow OFF) ("Schedule types", EventBridge Scheduler user
        guide: one-time schedules take at(yyyy-mm-ddThh:mm:ss))."""
        request = {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": f"at({at})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": target,
        }
        errors = self._scheduler.exceptions
        update_first = True
        for _ in range(ATTEMPTS):
            try:
                if update_first:
                    self._scheduler.update_schedule(**request)
                    return "updated"
                self._scheduler.create_schedule(**request)
                return "created"
            except errors.ResourceNotFoundException:
                update_first = False
            except errors.ConflictException:
                update_first = True
        raise RuntimeError(f"schedule {self.group}/{name}: create and update kept racing")
