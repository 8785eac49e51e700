"""Amazon EventBridge for the twin: delivery to targets as EventBridge does it, input
transformation, events emitted by AWS services, and replays of archived events."""
