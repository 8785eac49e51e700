"""`mlops local up --with-pipeline`: codepipeline.yaml with the staging and prod app stacks in
one local cloud, and the connected repository (a local bare git repository, its main the
project's files) a developer pushes to. Prints the `git remote add` command and what to run,
then follows the pipeline's executions stage by stage until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import time

from mlops.control.aws import AwsTarget
from mlops.control.pipeline import Pipeline


def up_with_pipeline(port: int) -> int:
    from mlops.cli.local import _stop
    from mlops.twin.cloud import CREDENTIALS, TIME_SCALE, describe_clock
    from mlops.twin.pipeline_stack import PIPELINE_STACK, start_delivery
    from mlops.twin.stack import ROOT

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    delivery = None
    try:
        print("mlops twin: deploying staging, prod and the delivery pipeline ...", flush=True)
        # A git checkout's own history, so that a clone of it pushes to the twin fast-forward.
        history = ROOT if (ROOT / ".git").exists() else None
        delivery = start_delivery(port=port, time_scale=TIME_SCALE, history=history)
        url = delivery.cloud.url
        print(f"twin listening on {url}; clock: {describe_clock(TIME_SCALE)}")
        for stage, app in delivery.apps.items():
            print(f"  {stage}: stack {app.stack.name}, data s3://{app.outputs['DataBucketName']}/")
        print(f"  pipeline {delivery.pipeline_name} (stack {PIPELINE_STACK})")
        uploads = "\n".join(
            f"  aws s3 cp ml/data/breast_cancer.csv "
            f"s3://{app.outputs['DataBucketName']}/{app.outputs['DataPrefix']}first.csv"
            for app in delivery.apps.values()
        )
        print(
            f"""
The execution that creating the pipeline started has failed at Source, as on AWS before the
connection's handshake; the repository now holds the project, and pushes start the next ones.
Each stage trains on its own data ("deploy code, not models"): give each a dataset first, or
its retrain ends DatasetInvalid ("nothing to retrain"), in a shell with the exports below:
{uploads}
Push to it from your clone (main runs the pipeline; a push touching only docs starts nothing):
  {delivery.git_remote_command()}
  git fetch twin && git push twin HEAD:main
Operate it from another shell:
  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing \\
         AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={delivery.cloud.region}
  mlops pipeline status
  mlops pipeline approve --reason "staging looks right"   (or: reject --reason R)
  mlops status --stack-name mlops-staging;  mlops status --stack-name mlops-prod
Ctrl-C (or SIGTERM) stops it.""",
            flush=True,
        )
        for key, value in CREDENTIALS.items():  # following reads the twin as any client does
            os.environ.setdefault(key, value)
        _follow(Pipeline(AwsTarget(None, delivery.cloud.region, url), delivery.pipeline_name))
    except KeyboardInterrupt:
        print("\nstopping the twin ...", flush=True)
    finally:
        from mlops.cli.local import stop

        stop(delivery)
    return 0


def _follow(pipeline: Pipeline) -> None:
    """A line per stage change of any execution."""
    seen: dict[tuple[str, str], str] = {}
    while True:
        for stage in pipeline.stages():
            key = (stage["execution_id"] or "", stage["stage"])
            if stage["status"] and seen.get(key) != stage["status"]:
                seen[key] = stage["status"]
                print(f"{(stage['execution_id'] or '')[:8]} {stage['stage']} {stage['status']}")
        time.sleep(1)
