"""The control plane as an operator sees it: the stack found from its name, and typed reads and
actions over its workflows, registry, endpoint, ledger, archive and dead-letter queue.

A client of the public AWS APIs only, so it works the same against an AWS account and against
the twin. The command line (mlops/cli) parses arguments and prints; everything it shows or
does comes from here. The demo (mlops/demo) shares one piece: the timeline of an execution.

    aws.py          where the calls go (profile, region, endpoint) and the caller's identity
    errors.py       what can go wrong, each with its exit code
    stack.py        the stack from DescribeStacks and ListStackResources
    plane.py        ControlPlane: the stack resolved once, its clients and adapters
    timeline.py     an execution state by state; the live Watcher
    runs.py         executions of the four workflows, their outcomes
    endpoint.py     the endpoint, its live version, a deployment in progress
    versions.py     the model registry as a table; approve, reject
    follow.py       waiting for the execution an action started, to its end
    retrain.py      retrain requests (the TrainingPipeline's documented input)
    replay.py       replays of the stack's archive
    deadletters.py  the dead-letter queue: list, redrive
    event_input.py  what a rule's target receives (Input, InputPath, InputTransformer)
    audit.py        rollback and approval audit entries
"""
