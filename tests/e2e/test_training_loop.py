"""The whole loop in the twin: S3 upload -> EventBridge -> TrainingPipeline -> registry ->
DeployPipeline -> a live endpoint. Every job, handler and model server runs for real."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from mlops.demo.loop import sample_rows

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]


def test_upload_trains_registers_deploys_and_serves_the_new_model(served):
    runs = {v.workflow: v for v in served.first.executions}
    served.assert_status(runs["TrainingPipeline"], "SUCCEEDED")
    served.assert_status(runs["DeployPipeline"], "SUCCEEDED")
    assert served.states_entered(runs["TrainingPipeline"].arn)[-1] == "Registered"
    assert served.states_entered(runs["DeployPipeline"].arn)[-1] == "Deployed"
    # Every configured candidate trained for real, in its own job.
    jobs = [j for j in served.training_jobs() if j["TrainingJobName"] in served.first.training_jobs]
    assert len(jobs) == 3 and {j["TrainingJobStatus"] for j in jobs} == {"Completed"}
    # One version, approved (AutoApprove in the twin), with lineage back to the upload.
    (package,) = served.model_packages()
    described = served.client("sagemaker").describe_model_package(
        ModelPackageName=package["ModelPackageArn"]
    )
    assert described["ModelApprovalStatus"] == "Approved"
    lineage = described["CustomerMetadataProperties"]
    assert lineage["dataset_uri"].endswith("/datasets/first.csv")
    assert float(lineage["score"]) >= 0.9
    # The endpoint serves that version (no later upload registers one), and answers for real.
    endpoint = served.client("sagemaker").describe_endpoint(
        EndpointName=served.twin.outputs["EndpointName"]
    )
    assert endpoint["EndpointStatus"] == "InService"
    assert "-v1-" in endpoint["EndpointConfigName"]
    rows, labels = sample_rows(served.dataset(), 20)
    response = served.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=served.twin.outputs["EndpointName"],
        ContentType="text/csv",
        Accept="application/json",
        Body=rows.encode(),
    )
    predictions = json.loads(response["Body"].read())["predictions"]
    assert len(predictions) == 20
    correct = sum(str(p["label"]) == label for p, label in zip(predictions, labels, strict=True))
    assert correct >= 18


def test_success_paths_notify(served):
    messages = served.notifications(served.first.executions)
    outcomes = {(m["body"]["workflow"], m["body"]["outcome"]) for m in messages}
    assert {("training", "REGISTERED"), ("deploy", "DEPLOYED")} <= outcomes


def test_second_upload_is_judged_against_the_champion_and_not_registered(served):
    # Given the first model is the champion, when the same data arrives under a new key,
    new_runs = served.run_upload("second.csv", served.dataset())
    # then training runs again, scores the champion on the same split, and registers nothing.
    (training,) = [v for v in new_runs if v.workflow == "TrainingPipeline"]
    served.assert_status(training, "SUCCEEDED")
    assert served.states_entered(training.arn)[-1] == "NotBetter", served.why(training)
    assert not [v for v in new_runs if v.workflow == "DeployPipeline"]
    assert len(served.model_packages()) == 1
    (message,) = [
        m["body"] for m in served.notifications(new_runs) if m["body"]["outcome"] == "NOT_BETTER"
    ]
    gate = message["selection"]["gate"]
    assert gate["champion_score"] is not None
    assert gate["score"] < gate["to_beat"] == pytest.approx(gate["champion_score"] + gate["margin"])


def test_replaying_the_archived_upload_does_not_train_twice(served):
    events = served.client("events")
    bus = served.twin.outputs["EventBusName"]
    archive = events.describe_archive(ArchiveName=served.twin.outputs["EventArchiveName"])
    rule = next(
        r
        for r in events.list_rules(EventBusName=bus)["Rules"]
        if "TrainingPipelineNewDataset" in r["Name"]
    )
    jobs_before, packages_before = len(served.training_jobs()), len(served.model_packages())
    before = set(served.watcher.executions)
    # The window holds the first upload alone, whatever the other tests uploaded since.
    start, end = served.first.uploaded
    events.start_replay(
        ReplayName=f"replay-{int(time.time())}",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=start - timedelta(seconds=1),
        EventEndTime=end,
        Destination={"Arn": archive["EventSourceArn"], "FilterArns": [rule["Arn"]]},
    )
    # RecordUpload finds the upload trained: it counts the replay on the upload's ledger item
    # and starts nothing (README, "Bursts of uploads")
    outputs = served.twin.outputs
    prefix = f"s3://{outputs['DataBucketName']}/{outputs['DataPrefix']}"
    upload = f"{outputs['DataPrefix']}first.csv#{first_version(served)}"
    item_key = {"pk": {"S": f"uploads#{prefix}"}, "sk": {"S": f"upload#{upload}"}}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = served.client("dynamodb").get_item(
            TableName=outputs["LedgerTableName"], Key=item_key, ConsistentRead=True
        )["Item"]
        if "replays" in item:
            break
        time.sleep(0.5)
    assert (item["status"]["S"], item["replays"]["N"]) == ("TRAINED", "1")
    time.sleep(2)
    served.watcher.poll()
    assert set(served.watcher.executions) == before
    assert len(served.training_jobs()) == jobs_before
    assert len(served.model_packages()) == packages_before


def first_version(served: Any) -> str:
    bucket, key = served.twin.outputs["DataBucketName"], "datasets/first.csv"
    return served.client("s3").list_object_versions(Bucket=bucket, Prefix=key)["Versions"][-1][
        "VersionId"
    ]


def test_broken_dataset_is_rejected_in_the_ledger_trains_nothing_and_says_so_in_one_line(
    served,
):
    jobs_before = len(served.training_jobs())
    broken = b"mean_radius,mean_texture\n1.0,2.0\n"  # no label column
    (run,) = served.run_upload("broken.csv", broken)
    served.assert_status(run, "FAILED", error="DatasetInvalid")
    assert "no label column 'malignant'" in run.cause
    assert len(served.training_jobs()) == jobs_before
    assert len(served.model_packages()) == 1
    # The ledger keeps the rejection under the upload's business key, with the reason
    bucket, key = served.twin.outputs["DataBucketName"], "datasets/broken.csv"
    version = served.client("s3").head_object(Bucket=bucket, Key=key)["VersionId"]
    item = ledger_item(served, f"dataset#s3://{bucket}/{key}#{version}")
    assert (item["status"]["S"], item["run_id"]["S"]) == ("REJECTED", run.name)
    assert item["reason"]["S"].startswith("no label column 'malignant'")
    # One notification whose first line names the error, the problem and the object version
    (failure,) = [
        m["body"] for m in served.notifications([run]) if m["body"]["outcome"] == "FAILED"
    ]
    assert failure["error"] == "DatasetInvalid"
    assert list(failure)[0] == "summary"
    assert failure["summary"].startswith(f"DatasetInvalid: s3://{bucket}/{key} version {version}: ")
    assert "no label column 'malignant'" in failure["summary"] and "\n" not in failure["summary"]
    assert (failure["dataset"]["key"], failure["dataset"]["version_id"]) == (key, version)
    assert "stackTrace" not in json.dumps(failure)


def test_a_folder_object_starts_no_run_and_a_run_started_on_one_skips_it(served):
    # Given a "folder" (the console's zero-byte object whose key ends in "/") and, after it,
    # an upload whose run ends quickly (rejected): once that run has ended, so has any run
    # the folder's event could have started
    before = set(served.watcher.executions)
    served.twin.upload_dataset("incoming/", b"")
    runs = served.run_upload("after-the-folder.csv", b"not,a,dataset\n")
    inputs = [served.client("stepfunctions").describe_execution(executionArn=v.arn)["input"]
              for v in runs]  # fmt: skip
    assert len(runs) == 1 and "after-the-folder.csv" in inputs[0]
    # When a run is started on the folder's event anyway (the rule is bypassed)
    bucket = served.twin.outputs["DataBucketName"]
    marker = served.client("s3").head_object(Bucket=bucket, Key="datasets/incoming/")
    event = json.loads((served.twin.root / "events/rules/s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"] |= {"key": "datasets/incoming/", "size": 0,
                                  "etag": marker["ETag"].strip('"'),
                                  "version-id": marker["VersionId"]}  # fmt: skip
    arn = served.client("stepfunctions").start_execution(
        stateMachineArn=served.twin.outputs["TrainingPipelineArn"], input=json.dumps(event)
    )["executionArn"]
    served.wait_for(lambda w: arn in w.executions and not w.running(), 60)
    # Then it skips the folder without a claim, and says why
    assert served.states_entered(arn)[-1] == "AlreadyHandled"
    (skipped,) = served.notifications([arn])
    assert (
        skipped["body"]["summary"]
        == f"s3://{bucket}/datasets/incoming/ is a folder marker, not a dataset"
    )
    assert not [i for i in ledger_items(served) if "incoming/" in i["pk"]["S"]]
    assert set(served.watcher.executions) - before == {runs[0].arn, arn}


def test_malformed_start_input_fails_with_event_malformed(served):
    sfn = served.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=served.twin.outputs["TrainingPipelineArn"],
        input=json.dumps({"detail": {"bucket": "nope"}}),
    )["executionArn"]
    served.wait_for(lambda w: not w.running() and arn in w.executions, 60)
    served.assert_status(arn, "FAILED", error="EventMalformed")


def ledger_items(harness):
    table = harness.twin.outputs["LedgerTableName"]
    return harness.client("dynamodb").scan(TableName=table)["Items"]


def ledger_item(harness, key, sort="run"):
    table = harness.twin.outputs["LedgerTableName"]
    found = harness.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": key}, "sk": {"S": sort}}, ConsistentRead=True
    )
    return found["Item"]
