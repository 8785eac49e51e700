"""The Step Functions invoke action ("AWS Step Functions invoke action reference", CodePipeline
user guide): StartExecution of StateMachineArn, named by the action execution id (after
ExecutionNamePrefix and a hyphen when given), with the input InputType names: Literal (the
Input value, a JSON document; `{}` when empty) or FilePath (Input is a file in the action's
input artifact). The action waits for the execution's end: SUCCEEDED succeeds, any other end
fails it with the execution's error and cause. Output variables: StateMachineArn and
ExecutionArn; the output artifact, when declared, holds the execution's output as
`output.json`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from botocore.exceptions import ClientError

from mlops.twin.codepipeline import artifacts
from mlops.twin.codepipeline.providers import ActionContext, ActionResult

_POLL_S = 0.5
_NAME = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


class StepFunctionsAction:
    def __init__(self, work_dir: Path, poll_s: float = _POLL_S) -> None:
        self.work_dir, self.poll_s = work_dir, poll_s

    def run(self, context: ActionContext) -> ActionResult:
        config = context.configuration
        if not config.get("StateMachineArn"):
            return ActionResult.failed("Missing required configuration: StateMachineArn")
        name = context.action_execution_id
        if config.get("ExecutionNamePrefix"):
            name = f"{config['ExecutionNamePrefix']}-{name}"[:80]
        if not _NAME.match(name):
            return ActionResult.failed(f"Invalid execution name {name}")
        try:
            document = self._input(context)
        except ValueError as error:
            return ActionResult.failed(str(error), code="ConfigurationError")
        sfn = context.client("stepfunctions")
        try:
            execution_arn = sfn.start_execution(
                stateMachineArn=config["StateMachineArn"], name=name, input=document
            )["executionArn"]
        except ClientError as error:
            return ActionResult.failed(
                f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
            )
        url = (
            f"https://console.aws.amazon.com/states/home?region={context.region}"
            f"#/v2/executions/details/{execution_arn}"
        )
        context.progress(external_execution_id=execution_arn, external_execution_url=url)
        variables = {"StateMachineArn": config["StateMachineArn"], "ExecutionArn": execution_arn}
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if context.abandoned.wait(self.poll_s):
                return ActionResult.abandoned(external_execution_id=execution_arn)
        common = {
            "external_execution_id": execution_arn,
            "external_execution_url": url,
            "output_variables": variables,
        }
        if described["status"] != "SUCCEEDED":
            error = described.get("error") or described["status"]
            cause = _readable(described.get("cause") or "")
            message = f"Execution {described['status']}: {error}" + (f": {cause}" if cause else "")
            return ActionResult.failed(
                message, summary=f"Execution {described['status']}: {error}", **common
            )
        if context.output_artifacts:
            output = (described.get("output") or "{}").encode()
            artifacts.upload(
                context.client("s3"), context.output_artifacts[0], {"output.json": output}
            )
        return ActionResult("Succeeded", summary="Execution SUCCEEDED", **common)

    def _input(self, context: ActionContext) -> str:
        config = context.configuration
        kind = config.get("InputType", "Literal")
        if kind == "Literal":
            text = config.get("Input") or "{}"
        elif kind == "FilePath":
            if not config.get("Input") or not context.input_artifacts:
                raise ValueError("InputType FilePath needs Input (a path) and an input artifact")
            root = artifacts.extract(
                context.client("s3"),
                context.input_artifacts[0],
                self.work_dir / context.action_execution_id,
            )
            path = (root / config["Input"]).resolve()
            if not path.is_file() or not path.is_relative_to(root.resolve()):
                raise ValueError(f"Input file {config['Input']} is not in the input artifact")
            text = path.read_text()
        else:
            raise ValueError(f"InputType {kind}: must be Literal or FilePath")
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"The input is not valid JSON: {error}") from None
        return text


def _readable(cause: str) -> str:
    """A Lambda error document as a cause (errorType, errorMessage, stackTrace) is read for
    its message; the stack trace is not forwarded. Any other cause is kept as it is."""
    try:
        document = json.loads(cause)
    except json.JSONDecodeError:
        return cause
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"]).splitlines()[0] if document["errorMessage"] else ""
    return cause
