"""`mlops`: the operator's command line, for a stack in an AWS account and in the twin alike.

Operate a stack (found from its name: --stack-name, or samconfig.toml for --config-env):
  mlops status                          endpoint, last runs, approvals, alarms, dead letters
  mlops runs [--workflow W] [--since 2h]  recent executions;  mlops runs show ID
  mlops watch                           follow new executions live until Ctrl-C
  mlops versions                        the model registry: scores, lineage, live, champion
  mlops approve VERSION [--note N]      approve: the DeployPipeline deploys it
  mlops reject VERSION --reason R       reject: rejecting the live version rolls back
  mlops rollback --reason R             back to the last known-good version
  mlops retrain S3_URI|--latest --reason R [--force]   train a dataset version again
  mlops replay --from T [--to T] [--dry-run] [--wait]   replay archived events
  mlops dlq [redrive]                   dead letters; deliver them again
  mlops audit                           rollback and approval audit entries
  mlops schema accept --reason R        the next dataset may change the features
  mlops drift [--features]              latest drift checks (and a report's per-feature figures)
  mlops ab status|labels FILE           the A/B test: variants, figures, rule; upload labels
  mlops ab promote|stop --reason R      decide the running A/B test now

The delivery pipeline (its stack: --stack-name, default mlops-delivery; or --pipeline NAME):
  mlops pipeline status                 stages, recent pushes, the approval waiting
  mlops pipeline approve [--reason R]   release to prod;  mlops pipeline reject --reason R

The twin and deployment:
  mlops local demo [--dataset D]        the whole loop, offline (breast_cancer, wine, diabetes)
  mlops local up [--config-env E] [--parameter-overrides K=V ...]   the stack, offline
  mlops local up --with-pipeline        codepipeline.yaml, staging and prod: git push to deliver
  mlops image-uri --region R            the SageMaker scikit-learn image for a region
  mlops publish-code --bucket B [--version V] upload ml/ as an immutable code version

AWS access is the standard chain (--profile, --region, environment); --endpoint-url or
AWS_ENDPOINT_URL points at the twin. --json prints documented JSON on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlops.cli import (
    ab,
    actions,
    audit,
    dlq,
    drift,
    local,
    pipeline,
    replay,
    runs,
    schema,
    status,
    tools,
    versions,
)
from mlops.cli.common import target_options
from mlops.cli.render import print_json
from mlops.control.aws import translate
from mlops.control.errors import EXIT_CODES


def parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    root = argparse.ArgumentParser(
        prog="mlops",
        description=__doc__,
        epilog=f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[target_options(suppress=False)],
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parent = target_options(suppress=True)
    modules = (status, runs, versions, actions, replay, dlq, audit, schema, drift, ab, pipeline)
    for module in modules:
        module.add(commands, parent)
    local.add(commands)
    tools.add(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlops runs | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        print(f"mlops: {error}", file=sys.stderr)
        if getattr(args, "json", False):
            print_json({"error": str(error), "exit_code": error.exit_code})
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
