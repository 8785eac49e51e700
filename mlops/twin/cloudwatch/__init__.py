"""Amazon CloudWatch for the twin: metric alarms evaluated from the datapoints moto stores
(moto stores alarms but never evaluates them)."""
