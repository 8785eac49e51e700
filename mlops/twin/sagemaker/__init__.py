"""Amazon SageMaker for the twin: the Model Registry's updates and state-change events,
training and processing jobs that run (jobs/), and endpoints with real model servers
(hosting/)."""
