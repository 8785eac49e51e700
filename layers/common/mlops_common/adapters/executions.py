from typing import Any


class Executions:
    """Step Functions executions: DescribeExecution, and StartExecution of a named one."""

    def __init__(self, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def status(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; None if there
        is no such execution (botocore model stepfunctions: DescribeExecution)."""
        try:
            return self._sfn.describe_execution(executionArn=execution_arn)["status"]
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None

    def start(self, state_machine_arn: str, name: str, payload: str) -> tuple[str, bool]:
        """(execution ARN, started). The name makes a repeat harmless: Step Functions answers
        StartExecution of a running execution's name and input with that execution, and any
        other reuse of a name with ExecutionAlreadyExists ("StartExecution", Step Functions API
        reference), which is answered here with that execution's ARN and started False."""
        try:
            answer = self._sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=payload
            )
            return answer["executionArn"], True
        except self._sfn.exceptions.ExecutionAlreadyExists:
            arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
            return arn, False
