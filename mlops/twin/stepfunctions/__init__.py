"""AWS Step Functions for the twin: fixes to moto's ASL interpreter (JSONPath, execution names,
timestamps, error codes, outputs) and the optimized SageMaker task integrations it lacks."""
