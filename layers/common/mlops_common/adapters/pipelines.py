from typing import Any


class Pipelines:
    """The delivery pipeline's executions, as the CodePipeline API reports them."""

    def __init__(self, codepipeline_client: Any) -> None:
        self._codepipeline = codepipeline_client

    def execution(self, pipeline: str, execution_id: str) -> dict[str, Any]:
        """GetPipelineExecution's pipelineExecution (artifactRevisions name the commit)."""
        return self._codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution_id
        )["pipelineExecution"]

    def action_executions(self, pipeline: str, execution_id: str) -> list[dict[str, Any]]:
        """Every ActionExecutionDetail of the execution, newest first."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "pipelineName": pipeline,
            "filter": {"pipelineExecutionId": execution_id},
        }
        while True:
            page = self._codepipeline.list_action_executions(**request)
            found += page.get("actionExecutionDetails", [])
            if not page.get("nextToken"):
                return found
            request["nextToken"] = page["nextToken"]
