"""`mlops local demo` and `mlops local up`: the offline twin.

`local up` deploys the stack as `sam deploy` would (`--config-env`, `--parameter-overrides
Key=Value ...`, the same samconfig.toml) into a local cloud, prints the commands to operate it,
and runs until Ctrl-C or SIGTERM (also in the background), stopping every process it started
and removing its temporary folders.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from typing import Any

from mlops.cli.samconfig import DEFAULT_ENV, SamConfigError, parse_overrides, read_samconfig
from mlops.control.errors import UsageError
from mlops.demo.datasets import DATASETS


def add(commands: Any) -> None:
    local = commands.add_parser("local", help="the offline twin").add_subparsers(
        dest="local_command", required=True
    )
    demo = local.add_parser("demo", help="run the whole loop once, offline")
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.add_argument(
        "--scenario",
        choices=["loop", "canary-rollback", "drift", "git-push"],
        default="loop",
        help="loop: data to a served model; canary-rollback: a faulty v2 "
        "canary under traffic rolled back by guardrails; drift: shifted traffic detected, "
        "retrained and a new version serving; git-push: a push delivered through the pipeline "
        "to staging and prod (--timeout 1800 suits it)",
    )
    demo.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default="breast_cancer",
        help="loop scenario: the scikit-learn dataset to serve (binary, multiclass, regression)",
    )
    demo.set_defaults(func=demo_command)
    up = local.add_parser(
        "up", help="deploy the stack into the twin and keep it up for any AWS client"
    )
    up.add_argument("--port", type=int, default=4566, help="0: any free port")
    up.add_argument(
        "--config-env",
        default=DEFAULT_ENV,
        help="samconfig.toml environment: its stack name, region and parameter overrides",
    )
    up.add_argument("--config-file", default="samconfig.toml", help=argparse.SUPPRESS)
    up.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="stack parameters, as for sam deploy (over the environment's)",
    )
    up.add_argument(
        "--with-pipeline",
        action="store_true",
        help="also codepipeline.yaml with staging and prod stacks, and a repository to push to",
    )
    up.set_defaults(func=up_command)


def demo_command(args: argparse.Namespace) -> int:
    if args.scenario == "git-push":
        from mlops.demo.git_push import run_git_push

        return run_git_push(timeout=max(args.timeout, 1800.0))
    if args.scenario == "canary-rollback":
        from mlops.demo.canary_rollback import run_canary_rollback

        return run_canary_rollback(timeout=args.timeout)
    if args.scenario == "drift":
        from mlops.demo.drift import run_drift

        return run_drift(timeout=args.timeout)
    from mlops.demo.loop import run_demo

    return run_demo(timeout=args.timeout, dataset=args.dataset)


def _stop(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def up_command(args: argparse.Namespace) -> int:
    if args.with_pipeline:
        from mlops.cli.local_pipeline import up_with_pipeline

        return up_with_pipeline(args.port)
    from mlops.twin.cloud import TIME_SCALE, describe_clock
    from mlops.twin.cloudformation.template import TemplateError
    from mlops.twin.stack import STACK_NAME, start_stack

    try:
        config = read_samconfig(Path(args.config_file), args.config_env)
        overrides = parse_overrides(args.parameter_overrides)
    except SamConfigError as exc:
        raise UsageError(str(exc)) from exc
    parameters = (config.parameter_overrides if config else {}) | overrides
    stack_name = (config.stack_name if config else None) or STACK_NAME
    region = (config.region if config else None) or "us-east-1"
    # SIGTERM (kill, a service manager, a CI job's end) stops the twin as Ctrl-C does. A shell
    # starts background jobs with SIGINT ignored; SIGTERM still reaches them.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    twin = None
    try:
        print(f"mlops twin: deploying {stack_name} ({region}) into a local cloud ...", flush=True)
        try:
            twin = start_stack(
                port=args.port,
                time_scale=TIME_SCALE,
                stack_name=stack_name,
                region=region,
                **parameters,
            )
        except TemplateError as exc:
            raise UsageError(f"the stack cannot be deployed: {exc}") from exc
        _banner(twin, parameters, describe_clock(TIME_SCALE))
        _run(twin)
    except KeyboardInterrupt:
        print("\nstopping the twin ...", flush=True)
    finally:
        stop(twin)
    return 0


def stop(twin: Any | None) -> None:
    """Closes the twin (a stack, or the delivery setup). A second Ctrl-C or SIGTERM meanwhile
    must not leave model servers or workers half-stopped, so both are ignored from here on."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    if twin is not None:
        twin.close()
        print("stopped: no process or temporary folder of the twin is left", flush=True)


def _banner(twin: Any, parameters: dict[str, str], clock: str) -> None:
    url, region, name = twin.cloud.url, twin.cloud.region, twin.stack.name
    print(f"twin listening on {url}; clock: {clock}")
    print(twin.restart_notice)
    if parameters:
        print("parameters: " + " ".join(f"{k}={v}" for k, v in sorted(parameters.items())))
    print(f"stack {name} outputs:")
    for key, value in sorted(twin.outputs.items()):
        print(f"  {key:<26} {value}")
    out = twin.outputs
    print(
        f"""
Operate it from another shell, as you would a stack in an AWS account:
  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing \\
         AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}
  aws s3 cp ml/data/breast_cancer.csv s3://{out["DataBucketName"]}/{out["DataPrefix"]}new.csv
  mlops status --stack-name {name}
  mlops runs --stack-name {name}
  mlops runs show --stack-name {name} EXECUTION
  mlops versions --stack-name {name}
  mlops retrain --stack-name {name} --latest --force --reason "try it"
Ctrl-C (or SIGTERM) stops it.""",
        flush=True,
    )


def _run(twin: Any) -> None:
    """Prints what the workflows do until stopped."""
    from mlops.control.plane import WORKFLOWS
    from mlops.control.timeline import Watcher

    machines = {label: twin.outputs[f"{label}Arn"] for label in WORKFLOWS.values()}
    watcher = Watcher(twin.client("stepfunctions"), machines)
    while True:
        watcher.poll()
        time.sleep(0.5)
