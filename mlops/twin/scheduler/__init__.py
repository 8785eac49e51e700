"""Amazon EventBridge Scheduler for the twin: schedules moto stores, fired on time to their
templated targets (runner.py), their expressions (expressions.py) and targets (targets.py)."""
