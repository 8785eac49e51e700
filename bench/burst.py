"""Benchmark: a burst of uploads, as a data team makes them (issue 9), in the twin.

    .venv/bin/python bench/burst.py [--uploads 20] [--within 2] [--quiet-window 5]
                                    [--timeout 900]

Uploads the same dataset `--uploads` times under the data prefix within `--within` seconds
(distinct keys, as separate files of one export), on a stack that approves what it registers
(AutoApprove=true, so every registration deploys) and coalesces uploads less than
`--quiet-window` seconds apart (QuietWindowSeconds; the twin's Scheduler fires at() on the wall
clock, so these are real seconds; 0: a run per upload), then waits until no workflow runs.
Prints: uploads sent, executions started per workflow, training runs (executions that
trained), training and evaluation jobs, versions registered, deployments that deployed, how the
training executions ended, how the ledger accounts for the uploads (TRAINED, SUPERSEDED, ...),
and the seconds from the first upload until everything settled.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from typing import Any

from mlops.control.timeline import Watcher
from mlops.demo.loop import workflows
from mlops.twin.cloud import TIME_SCALE, describe_clock
from mlops.twin.stack import start_stack


def _ending(sfn: Any, arn: str) -> str:
    """The last state an execution entered (its outcome: Registered, NotBetter, ...)."""
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)
    for event in events["events"]:
        details = event.get("stateEnteredEventDetails")
        if details:
            return details["name"]
    return "?"


def _states(sfn: Any, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def _all(client: Any, operation: str, key: str, **request: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator(operation).paginate(**request)
    return [item for page in pages for item in page[key]]


def _ledger_uploads(twin: Any) -> dict[str, int]:
    """How many uploads of the data prefix the ledger holds in each status."""
    outputs = twin.outputs
    pages = (
        twin.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=outputs["LedgerTableName"],
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={
                ":k": {"S": f"uploads#s3://{outputs['DataBucketName']}/{outputs['DataPrefix']}"}
            },
        )
    )
    return dict(collections.Counter(i["status"]["S"] for page in pages for i in page["Items"]))


def burst(uploads: int, within: float, quiet_window: int, timeout: float) -> dict[str, Any]:
    twin = start_stack(
        time_scale=TIME_SCALE, AutoApprove="true", QuietWindowSeconds=str(quiet_window)
    )
    try:
        dataset = (twin.root / "ml" / "data" / "breast_cancer.csv").read_bytes()
        watcher = Watcher(twin.client("stepfunctions"), workflows(twin), emit=lambda _l: None)
        started = time.monotonic()
        for n in range(uploads):
            twin.upload_dataset(f"burst-part-{n:03d}.csv", dataset)
            time.sleep(within / max(uploads - 1, 1))
        sent = time.monotonic() - started

        def settled(w: Watcher) -> bool:
            return len(w.executions) >= 1 and not w.running()

        # Outcomes start workflows a moment later (an approval deploys): settled twice, apart.
        ok = watcher.wait(settled, timeout, 0.5)
        time.sleep(3)
        ok = ok and watcher.wait(settled, timeout, 0.5)
        seconds = time.monotonic() - started
        sfn, sagemaker = twin.client("stepfunctions"), twin.client("sagemaker")
        by_workflow = collections.Counter(v.workflow for v in watcher.executions.values())
        training = [a for a, v in watcher.executions.items() if v.workflow == "TrainingPipeline"]
        deploys = [a for a, v in watcher.executions.items() if v.workflow == "DeployPipeline"]
        endings = collections.Counter(_ending(sfn, a) for a in training)
        trained = [a for a in training if "TrainCandidates" in _states(sfn, a)]
        rounds = sum(_states(sfn, a).count("ReEvaluateCandidates") for a in training)
        jobs = _all(sagemaker, "list_training_jobs", "TrainingJobSummaries")
        evaluations = _all(sagemaker, "list_processing_jobs", "ProcessingJobSummaries")
        group = twin.outputs["ModelPackageGroupName"]
        versions = _all(
            sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=group
        )
        return {
            "quiet_window_seconds": quiet_window,
            "uploads_sent": uploads,
            "seconds_to_send": round(sent, 1),
            "executions": dict(by_workflow),
            "training_runs": len(trained),
            "training_jobs": len(jobs),
            "evaluation_jobs": len(evaluations),
            "champion_rounds": rounds,
            "versions_registered": len(versions),
            "deployments": collections.Counter(_ending(sfn, a) for a in deploys),
            "training_outcomes": dict(endings),
            "uploads_in_ledger": _ledger_uploads(twin),
            "settled": ok,
            "seconds_to_settle": round(seconds, 1),
        }
    finally:
        twin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--within", type=float, default=2.0, help="seconds for all uploads")
    parser.add_argument("--quiet-window", type=int, default=5, help="QuietWindowSeconds")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    print(describe_clock(TIME_SCALE))
    figures = burst(args.uploads, args.within, args.quiet_window, args.timeout)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = json.dumps(value) if isinstance(value, dict) else value
        print(f"{key:<{width}}  {shown}")


if __name__ == "__main__":
    main()
