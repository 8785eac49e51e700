from typing import Any


class Executions:
    """Step Functions executions, read only (DescribeExecution)."""

    def __init__(self, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def status(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; None if there
        is no such execution (botocore model stepfunctions: DescribeExecution)."""
        try:
            return self._sfn.describe_execution(executionArn=execution_arn)["status"]
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
