"""The stacks the twin provisioned, as CloudFormation keeps them: what `DescribeStacks` and
`ListStackResources` report (api.py answers them on the wire).

moto's CloudFormation backend never sees these stacks: the twin provisions template.yaml
itself (provision.py), resource by resource, so moto would know each resource but not the
stack. `StackRecords` is the seam that adds the stack: installed, it answers for the stacks
put into it; uninstalled, it forgets them and moto answers every CloudFormation call again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from mlops.twin.aws.timestamps import utcnow
from mlops.twin.cloudformation.provision import Stack
from mlops.twin.seam import Seam


@dataclass(frozen=True)
class StackRecord:
    stack: Stack
    status: str  # CREATE_COMPLETE, or UPDATE_COMPLETE once put again
    created: datetime
    updated: datetime | None = None
    resources_updated: dict[str, datetime] = field(default_factory=dict)

    def resource_time(self, logical_id: str) -> datetime:
        return self.resources_updated.get(logical_id, self.created)


class StackRecords(Seam):
    """Stacks by name, in the order they were first created."""

    def __init__(self) -> None:
        self._records: dict[str, StackRecord] = {}
        self._lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        self.installed = True

    def uninstall(self) -> None:
        with self._lock:
            self.installed = False
            self._records.clear()

    def put(self, stack: Stack) -> StackRecord:
        """Record a stack the twin created, or updated in place (same name)."""
        now = utcnow()
        with self._lock:
            before = self._records.get(stack.name)
            if before is None:
                record = StackRecord(stack, "CREATE_COMPLETE", now)
            else:
                changed = {
                    logical: now
                    for logical, physical in stack.physical_ids.items()
                    if before.stack.physical_ids.get(logical) != physical
                    or before.stack.types.get(logical) != stack.types.get(logical)
                }
                record = StackRecord(
                    stack,
                    "UPDATE_COMPLETE",
                    before.created,
                    now,
                    before.resources_updated | changed,
                )
            self._records[stack.name] = record
            return record

    def find(self, name_or_id: str) -> StackRecord | None:
        """By stack name or stack id (ARN), as DescribeStacks' StackName accepts either."""
        with self._lock:
            if not self.installed:
                return None
            return next(
                (
                    r
                    for r in self._records.values()
                    if name_or_id in (r.stack.name, r.stack.stack_id)
                ),
                None,
            )

    def all(self) -> list[StackRecord]:
        with self._lock:
            return list(self._records.values()) if self.installed else []
