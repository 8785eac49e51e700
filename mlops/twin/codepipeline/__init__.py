"""CodePipeline executions in the twin: stages and actions run in order, artifacts pass through
the artifact store, variables resolve, approvals wait for an answer, and the state-change
events reach the default bus (moto stores pipelines and executes nothing)."""
