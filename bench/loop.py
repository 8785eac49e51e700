"""Benchmark: the whole loop in the twin, from a dataset upload to the new model serving.

    .venv/bin/python bench/loop.py [--runs N]

Prints, per run: total seconds from upload to the DeployPipeline's success; wall time during
which at least one SageMaker job ran (staging, script, upload) and the seconds spent inside the
ML scripts themselves; the rest (orchestration: events, Step Functions, Lambdas, hosting
start-up); state transitions per execution; and per-Lambda cold and warm invocation times.
Targets on a 2-core machine: whole loop < 60 s, orchestration < 15 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from typing import Any

from mlops.control.timeline import Watcher
from mlops.demo.loop import loop_settled, workflows
from mlops.twin.cloud import TIME_SCALE, describe_clock
from mlops.twin.stack import start_stack


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, current_end = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if start > current_end:
            total += end - start
            current_end = end
        elif end > current_end:
            total += end - current_end
            current_end = end
    return total


def _job_intervals(sagemaker: Any) -> list[tuple[float, float]]:
    intervals = []
    for summary in sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]:
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        intervals.append((job["TrainingStartTime"], job["TrainingEndTime"]))
    for summary in sagemaker.list_processing_jobs(MaxResults=100)["ProcessingJobSummaries"]:
        job = sagemaker.describe_processing_job(ProcessingJobName=summary["ProcessingJobName"])
        intervals.append((job["ProcessingStartTime"], job["ProcessingEndTime"]))
    return [
        (s.timestamp(), e.timestamp())
        for s, e in intervals
        if isinstance(s, datetime) and isinstance(e, datetime)
    ]


def run_once() -> dict[str, Any]:
    twin = start_stack(time_scale=TIME_SCALE)
    try:
        dataset = (twin.root / "ml" / "data" / "breast_cancer.csv").read_bytes()
        watcher = Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _l: None)
        started = time.monotonic()
        twin.upload_dataset("bench.csv", dataset)
        if not watcher.wait(lambda w: bool(w.executions) and loop_settled(w), 300, 0.1):
            raise RuntimeError("the loop did not settle within 300 s")
        total = time.monotonic() - started
        deploy = watcher.finished("DeployPipeline")
        if not deploy or deploy[0].status != "SUCCEEDED":
            states = [(v.workflow, v.status, v.error) for v in watcher.executions.values()]
            raise RuntimeError(f"loop failed: {states}")
        jobs_wall = _union_seconds(_job_intervals(twin.client("sagemaker")))
        script_seconds = sum(t["seconds"] or 0 for t in twin.cloud.jobs.timings())
        # A second upload on the warm stack: retrained and judged against the new champion.
        before = set(watcher.executions)
        started_again = time.monotonic()
        twin.upload_dataset("bench-again.csv", dataset)
        watcher.wait(lambda w: bool(set(w.executions) - before) and not w.running(), 300, 0.1)
        warm_retrain = time.monotonic() - started_again
        return {
            "total": total,
            "warm_retrain": warm_retrain,
            "jobs_wall": jobs_wall,
            "scripts": script_seconds,
            "orchestration": total - jobs_wall,
            "transitions": [(v.workflow, v.transitions) for v in watcher.executions.values()],
            "lambdas": twin.cloud.runtime.stats(),
        }
    finally:
        twin.close()


def report(runs: list[dict[str, Any]]) -> None:
    def line(label: str, key: str, target: float | None = None) -> None:
        values = [r[key] for r in runs]
        verdict = (
            ""
            if target is None
            else f"  (target < {target:.0f} s: {'met' if max(values) < target else 'MISSED'})"
        )
        print(
            f"{label:<44} median {statistics.median(values):6.1f} s  "
            f"max {max(values):6.1f} s{verdict}"
        )

    print(f"\nloop benchmark, {len(runs)} run(s)")
    line("upload -> new model serving", "total", 60)
    line("SageMaker jobs running (wall, any job)", "jobs_wall")
    line("inside the ML scripts (sum over jobs)", "scripts")
    line("orchestration (total - jobs wall)", "orchestration", 15)
    line("second upload, warm: retrain -> gate", "warm_retrain")
    print(
        "state transitions per execution: "
        + ", ".join(f"{k} {v}" for k, v in runs[-1]["transitions"])
    )
    print(f"\n{'Lambda':<44} {'cold ms':>9} {'warm ms (median)':>17} {'n warm':>7}")
    for name, stats in sorted(runs[-1]["lambdas"].items()):
        cold = statistics.median(stats["cold_ms"]) if stats["cold_ms"] else float("nan")
        warm = statistics.median(stats["warm_ms"]) if stats["warm_ms"] else float("nan")
        print(f"{name.split('-')[2][:42]:<44} {cold:9.0f} {warm:17.0f} {len(stats['warm_ms']):7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"clock: {describe_clock(TIME_SCALE)}")
    runs = []
    for index in range(args.runs):
        runs.append(run_once())
        print(f"run {index + 1}: {runs[-1]['total']:.1f} s")
    report(runs)


if __name__ == "__main__":
    main()
