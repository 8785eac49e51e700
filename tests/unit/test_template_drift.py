"""template.yaml wires drift detection with least privilege: the schedule may start the
DriftCheck alone, each function reaches only its own prefix, namespace and bus, the jobs read
capture and write reports, and every live endpoint config carries the capture the checks read.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

ROOT = Path(__file__).resolve().parents[2]


@cache
def template() -> dict[str, Any]:
    return json.loads(json.dumps(load_cfn_yaml(str(ROOT / "template.yaml"))))


def resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]


def statements(name: str) -> list[dict[str, Any]]:
    # SAM functions and state machines list documents; IAM roles wrap them in PolicyDocument
    policies = resource(name)["Properties"].get("Policies", [])
    documents = [p.get("PolicyDocument", p) for p in policies if isinstance(p, dict)]
    return [s for d in documents for s in d.get("Statement", [])]


def actions(statement: dict[str, Any]) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def test_the_schedule_starts_the_drift_check_on_the_parameter_expression() -> None:
    schedule = resource("ScheduledDriftCheck")
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "DriftCheckSchedule"}
    assert props["Target"]["Arn"] == {"Ref": "DriftCheck"}
    assert props["Target"]["RoleArn"] == {"Fn::GetAtt": ["ScheduledDriftCheckRole", "Arn"]}
    parameter = template()["Parameters"]["DriftCheckSchedule"]
    assert parameter["Default"] == "rate(1 hour)"


def test_the_schedule_role_may_only_start_the_drift_check() -> None:
    role = resource("ScheduledDriftCheckRole")["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [allowed] = statements("ScheduledDriftCheckRole")
    assert actions(allowed) == {"states:StartExecution"}
    assert allowed["Resource"] == {"Ref": "DriftCheck"}


def test_judge_drift_reaches_its_reports_namespace_and_bus_only() -> None:
    found = {s.get("Sid"): s for s in statements("JudgeDriftFunction")}
    env = resource("JudgeDriftFunction")["Properties"]["Environment"]["Variables"]
    assert found["ReadDriftReports"]["Resource"] == {
        "Fn::Sub": "${ArtifactsBucket.Arn}/drift-reports/*"
    }
    metrics = found["DriftMetrics"]
    assert metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": env["METRICS_NAMESPACE"]}
    }
    assert found["AskForARetrain"]["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert actions(found["AskForARetrain"]) == {"events:PutEvents"}


def test_plan_drift_check_lists_capture_files_and_reads_nothing_else_in_s3() -> None:
    s3 = [s for s in statements("PlanDriftCheckFunction") if any("s3:" in a for a in actions(s))]
    assert [actions(s) for s in s3] == [{"s3:ListBucket"}]
    assert s3[0]["Condition"] == {"StringLike": {"s3:prefix": ["data-capture/*"]}}


def test_the_drift_workflow_runs_only_drift_jobs_and_passes_only_the_jobs_role() -> None:
    found = {s.get("Sid"): s for s in statements("DriftCheck")}
    jobs = found["DriftJobs"]
    assert "sagemaker:CreateTrainingJob" not in actions(jobs)
    assert jobs["Resource"]["Fn::Sub"][0].endswith(":processing-job/mlops-${StackToken}-drift-*")
    assert found["PassOnlyTheSageMakerRole"]["Resource"] == {
        "Fn::GetAtt": ["SageMakerJobsRole", "Arn"]
    }


def test_hosting_writes_capture_and_jobs_read_it_and_write_reports() -> None:
    hosting = {s.get("Sid"): s for s in statements("SageMakerHostingRole")}
    assert {"Fn::Sub": "${ArtifactsBucket.Arn}/data-capture/*"} in hosting["WriteDataCapture"][
        "Resource"
    ]
    jobs = {s.get("Sid"): s for s in statements("SageMakerJobsRole")}
    assert jobs["ReadDataCapture"]["Resource"] == {
        "Fn::Sub": "${ArtifactsBucket.Arn}/data-capture/*"
    }
    assert {"Fn::Sub": "${ArtifactsBucket.Arn}/drift-reports/*"} in jobs["WriteRunOutputs"][
        "Resource"
    ]


def test_the_drift_rule_retrains_through_the_dead_letter_queue_like_every_rule() -> None:
    rule = resource("TrainingPipeline")["Properties"]["Events"]["DriftDetected"]["Properties"]
    assert rule["Pattern"] == {
        "source": ["mlops.control-plane"],
        "detail-type": ["Model Drift Detected"],
    }
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}


def test_every_live_endpoint_config_carries_the_plans_data_capture() -> None:
    for machine in ("deploy_pipeline", "rollback_pipeline"):
        asl = json.loads((ROOT / "statemachines" / f"{machine}.asl.json").read_text())
        parameters = asl["States"]["CreateEndpointConfig"]["Parameters"]
        assert (
            parameters["DataCaptureConfig.$"] == "$.plan.Payload.endpoint_config.DataCaptureConfig"
        )
    for function in ("PlanDeploymentFunction", "PlanRollbackFunction"):
        env = resource(function)["Properties"]["Environment"]["Variables"]
        assert env["DATA_CAPTURE_PERCENT"] == {"Ref": "DataCapturePercent"}
    percent = template()["Parameters"]["DataCapturePercent"]
    assert (percent["MinValue"], percent["MaxValue"]) == (0, 100)
