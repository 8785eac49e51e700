"""Stopping the twin mid-execution: every execution thread ends, every build process is
killed, nothing is left running (its own module: one local cloud at a time)."""

from __future__ import annotations

import threading
from pathlib import Path

from delivery_world import (
    DeliveryWorld,
    approval_action,
    build_action,
    processes_with,
    source_action,
)

from mlops.twin.cloud import LocalCloud


def test_the_executor_ends_every_thread_and_build_when_the_twin_stops(tmp_path: Path):
    marker = f"sleep 31 # {tmp_path.name}"
    with LocalCloud() as cloud:
        world = DeliveryWorld(cloud, tmp_path)
        slow = world.project(f"version: 0.2\nphases:\n  build:\n    commands: ['{marker}']\n")
        repository_id, clone = world.clone()
        name = world.pipeline(
            [
                {"name": "Source", "actions": [source_action(world, repository_id)]},
                {
                    "name": "Work",
                    "actions": [build_action("Slow", slow), approval_action(world)],
                },
            ]
        )
        clone.commit({"a.txt": "a"}, "go")
        clone.push()
        execution = world.latest(name)["pipelineExecutionId"]
        world.approval_token(name, "Work", "Approve")
        run = cloud.delivery.pipelines.run(name, execution)
    assert run.done.is_set() and run.status == "Stopped"
    assert [t for t in threading.enumerate() if t.name.startswith("twin-pipeline")] == []
    build = cloud.builds.builds()[0]
    assert build.status == "STOPPED"
    assert processes_with(marker) == []
