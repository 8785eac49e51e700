"""Check a stage after the pipeline's retrain on request, and say what happened in a form the
pipeline can carry on: `export NAME=value` lines (the buildspec sources them; its
exported-variables become the action's output variables, which the approval shows).

Environment: STAGE, STACK_NAME, STAGE_REGION, EXECUTION_ARN (the TrainingPipeline execution
the StepFunctions action started), COMMIT, VERIFY_TIMEOUT_SECONDS (default 3600).

The run's outcome is read from its output (what the TrainingPipeline's Succeed states leave):
  Registered      `registration` present: the challenger beat the champion. The registered
                  version must record the commit as its code version; once Approved, the
                  endpoint must come to serve it (the endpoint config's mlops:model-package-arn
                  tag) and answer rows of the shipped dataset.
  NotBetter       `selection` without `registration`: the champion keeps serving; reported
                  with the gate's figures, not hidden.
  AlreadyHandled  neither: this request was handled before (a replay).
Any other case fails the check, naming what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "ml" / "data" / "breast_cancer.csv"
LABEL = "malignant"
TAG = "mlops:model-package-arn"
POLL_SECONDS = 15
HANDLED_BY = re.compile(r"already handled by run (\S+) \(")


class CheckFailed(Exception):
    """The stage is not in the state the delivered commit should have left it in."""


def outcome_of(output: dict[str, Any]) -> str:
    if output.get("registration"):
        return "Registered"
    if output.get("selection"):
        return "NotBetter"
    return "AlreadyHandled"


def result(output: dict[str, Any], state: str) -> dict[str, Any]:
    """A Lambda task's result in the run's output: the TrainingPipeline keeps each at its
    ResultPath as {"Payload": ...} (its ResultSelector)."""
    found = output.get(state) or {}
    return found.get("Payload", found) if isinstance(found, dict) else {}


def handled_by(output: Any) -> str | None:
    """The run that handled this request before, as the TrainingPipeline's skip reason names
    it ("... was already handled by run NAME (STATUS)"), anywhere in the run's output."""
    if isinstance(output, str):
        found = HANDLED_BY.search(output)
        return found.group(1) if found else None
    values = output.values() if isinstance(output, dict) else output
    if isinstance(values, (list, type({}.values()))):
        for value in values:
            run = handled_by(value)
            if run:
                return run
    return None


def gate_figures(output: dict[str, Any]) -> dict[str, str]:
    gate = result(output, "selection").get("gate") or {}

    def number(key: str) -> str:
        value = gate.get(key)
        return "" if value is None else f"{float(value):.4f}"

    return {
        "METRIC": str(gate.get("metric", "")),
        "CHALLENGER_SCORE": number("score"),
        "CHAMPION_SCORE": number("champion_score"),
        "TO_BEAT": number("to_beat"),
    }


def sample_rows(count: int = 3) -> str:
    """The first rows of the shipped dataset without the label, as text/csv with no header
    (the endpoint takes feature values in the model's feature order, ml/inference.py)."""
    with DATASET.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(count), reader, strict=False)]
    out = io.StringIO()
    writer = csv.writer(out)
    features = [name for name in rows[0] if name != LABEL]
    for row in rows:
        writer.writerow(row[name] for name in features)
    return out.getvalue()


def count_answers(document: Any) -> int:
    if isinstance(document, dict) and isinstance(document.get("predictions"), list):
        return len(document["predictions"])
    if isinstance(document, list):
        return len(document)
    raise CheckFailed(f"the endpoint answered {str(document)[:80]!r}, not predictions")


class Stage:
    def __init__(self, session: Any, stack_name: str) -> None:
        self.sagemaker = session.client("sagemaker")
        self.runtime = session.client("sagemaker-runtime")
        self.sfn = session.client("stepfunctions")
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def run_output(self, execution_arn: str) -> dict[str, Any]:
        execution = self.sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "SUCCEEDED":
            raise CheckFailed(f"the retrain {execution_arn} ended {execution['status']}")
        return json.loads(execution.get("output") or "{}")

    def served_package(self) -> str | None:
        name = self.outputs["EndpointName"]
        try:
            endpoint = self.sagemaker.describe_endpoint(EndpointName=name)
        except self.sagemaker.exceptions.ClientError:
            return None
        if endpoint["EndpointStatus"] != "InService":
            return None
        config = self.sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        tags = self.sagemaker.list_tags(ResourceArn=config["EndpointConfigArn"])["Tags"]
        return next((t["Value"] for t in tags if t["Key"] == TAG), None)

    def answers(self) -> int:
        """How many rows the endpoint answered (application/json {"predictions": [...]},
        one per row: ml/inference.py)."""
        response = self.runtime.invoke_endpoint(
            EndpointName=self.outputs["EndpointName"],
            ContentType="text/csv",
            Accept="application/json",
            Body=sample_rows(),
        )
        return count_answers(json.loads(response["Body"].read()))


def check(stage: Stage, env: dict[str, str]) -> dict[str, str]:
    """The stage after the run; a run that found its request handled before (a retried
    stage re-uses its request id, so nothing trains twice) reports the original run."""
    output = stage.run_output(env["EXECUTION_ARN"])
    outcome = outcome_of(output)
    original = handled_by(output) if outcome == "AlreadyHandled" else None
    if original:
        arn = f"{env['EXECUTION_ARN'].rsplit(':', 1)[0]}:{original}"
        output = stage.run_output(arn)
        outcome = outcome_of(output)
    found = {"OUTCOME": outcome, "MODEL_VERSION": ""} | gate_figures(output)
    figures = (
        f"{found['METRIC']} {found['CHALLENGER_SCORE']} vs champion "
        f"{found['CHAMPION_SCORE'] or 'none'}"
    )
    if outcome == "Registered":
        registration = result(output, "registration")
        arn, version = registration["model_package_arn"], str(registration["version"])
        found["MODEL_VERSION"] = version
        package = stage.sagemaker.describe_model_package(ModelPackageName=arn)
        code = (package.get("CustomerMetadataProperties") or {}).get("code_version")
        if code != env["COMMIT"]:
            raise CheckFailed(f"v{version} records code version {code!r}, not {env['COMMIT']}")
        if package["ModelApprovalStatus"] != "Approved":
            detail = f"v{version} registered, {package['ModelApprovalStatus']}; serving unchanged"
        else:
            deadline = time.monotonic() + float(env.get("VERIFY_TIMEOUT_SECONDS", "3600"))
            while stage.served_package() != arn:
                if time.monotonic() > deadline:
                    raise CheckFailed(f"the endpoint never came to serve v{version} ({arn})")
                time.sleep(float(env.get("VERIFY_POLL_SECONDS", POLL_SECONDS)))
            detail = f"serves v{version} from {env['COMMIT'][:7]}, {stage.answers()} rows answered"
        summary = f"{env['STAGE']}: Registered v{version} ({figures}); {detail}"
    else:
        serving = "answers" if stage.served_package() and stage.answers() else "not serving"
        summary = f"{env['STAGE']}: {outcome} ({figures}); the endpoint {serving}"
    if original:
        summary += f"; already handled by run {original}"
    found["SUMMARY"] = f"{summary}; run {env['EXECUTION_ARN'].rsplit(':', 1)[-1]}"[:400]
    return found


def main() -> int:
    env = dict(os.environ)
    session = boto3.Session(region_name=env.get("STAGE_REGION") or None)
    try:
        found = check(Stage(session, env["STACK_NAME"]), env)
    except CheckFailed as failure:
        print(f"{env.get('STAGE', 'stage')} check failed: {failure}", file=sys.stderr)
        return 1
    for name, value in found.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
