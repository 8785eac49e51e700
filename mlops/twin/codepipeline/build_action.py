"""The CodeBuild build and test action ("AWS CodeBuild build and test action reference",
CodePipeline user guide) on the twin's CodeBuild: ProjectName, PrimarySource,
EnvironmentVariables (a JSON list of {name, value, type}; the twin serves PLAINTEXT only).
The first input artifact (or PrimarySource) is CODEBUILD_SRC_DIR, the others
CODEBUILD_SRC_DIR_<name>; the buildspec's `artifacts` go to the first output artifact and its
`secondary-artifacts` to the outputs of the same names; `exported-variables` become the
action's output variables. A failed build fails the action with "Build terminated with state:
FAILED" and the failed phase's context in the error message."""

from __future__ import annotations

import json

from mlops.twin.codebuild.build import ArtifactOutput, BuildRequest, SourceInput
from mlops.twin.codebuild.runner import BuildRunner
from mlops.twin.codepipeline.providers import ActionContext, ActionResult

_POLL_S = 0.2


class CodeBuildAction:
    def __init__(self, runner: BuildRunner) -> None:
        self.runner = runner

    def run(self, context: ActionContext) -> ActionResult:
        config = context.configuration
        if not config.get("ProjectName"):
            return ActionResult.failed("Missing required configuration: ProjectName")
        if str(config.get("BatchEnabled", "false")).lower() == "true":
            return ActionResult.failed("The twin does not run batch builds (BatchEnabled)")
        try:
            overrides = json.loads(config.get("EnvironmentVariables") or "[]")
        except json.JSONDecodeError as error:
            return ActionResult.failed(f"EnvironmentVariables is not valid JSON: {error}")
        refused = [v["name"] for v in overrides if v.get("type", "PLAINTEXT") != "PLAINTEXT"]
        if refused:
            return ActionResult.failed(f"The twin serves PLAINTEXT variables only: {refused}")
        inputs = sorted(
            context.input_artifacts, key=lambda a: a["name"] != config.get("PrimarySource")
        )
        primary = inputs[0] if inputs else None
        request = BuildRequest(
            project=config["ProjectName"],
            source_type="CODEPIPELINE",
            sources=tuple(
                SourceInput(a["name"], a["s3location"]["bucket"], a["s3location"]["key"])
                for a in inputs
            ),
            artifacts=tuple(
                ArtifactOutput(a["name"], a["s3location"]["bucket"], a["s3location"]["key"])
                for a in context.output_artifacts
            ),
            environment_overrides=tuple(
                {"name": v["name"], "value": str(v["value"]), "type": "PLAINTEXT"}
                for v in overrides
            ),
            source_version=(
                f"arn:aws:s3:::{primary['s3location']['bucket']}/{primary['s3location']['key']}"
                if primary
                else None
            ),
            resolved_source_version=context.input_revisions.get(primary["name"])
            if primary
            else None,
            initiator=f"codepipeline/{context.pipeline_name}",
        )
        build = self.runner.start(request)
        url = (
            f"https://console.aws.amazon.com/codebuild/home?region={context.region}"
            f"#/builds/{build.id}/view/new"
        )
        context.progress(external_execution_id=build.id, external_execution_url=url)
        while not build.done.wait(_POLL_S):
            if context.abandoned.is_set():
                self.runner.stop(build.id)
                build.done.wait()
                return ActionResult.abandoned(external_execution_id=build.id)
        variables = {v["name"]: v["value"] for v in build.exported}
        if build.status == "SUCCEEDED":
            return ActionResult(
                "Succeeded",
                external_execution_id=build.id,
                external_execution_url=url,
                output_variables=variables,
            )
        summary = f"Build terminated with state: {build.status}"
        message = summary
        failed = build.first_failure()
        if failed and failed.get("contexts"):
            context_ = failed["contexts"][0]
            message += (
                f". Phase: {failed['phaseType']}, Code: {context_['statusCode']}, "
                f"Message: {context_['message']}"
            )
        return ActionResult.failed(
            message,
            summary=summary,
            external_execution_id=build.id,
            external_execution_url=url,
            output_variables=variables,
        )
