"""`mlops`: the operator's command line.

mlops local demo [--dataset D]   the whole loop in the offline twin (breast_cancer, wine,
                                 diabetes: binary, multiclass, regression)
mlops local up [--port N]        keep the twin up on 127.0.0.1 for any AWS client
mlops image-uri --region R       the SageMaker scikit-learn image for template parameters
mlops publish-code --bucket B --version V   upload ml/ for the jobs (real account)
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from .demo.datasets import DATASETS


def _local_up(args: argparse.Namespace) -> int:
    from .demo.loop import workflows
    from .demo.progress import Watcher
    from .twin.cloud import TIME_SCALE, describe_clock
    from .twin.stack import start_stack

    twin = start_stack(port=args.port, time_scale=TIME_SCALE)
    out = twin.outputs
    print(f"twin listening on {twin.cloud.url}; clock: {describe_clock(TIME_SCALE)}")
    print("stack outputs:")
    for key, value in sorted(out.items()):
        print(f"  {key:<26} {value}")
    print(f"""
Try, from another shell:
  export AWS_ENDPOINT_URL={twin.cloud.url} AWS_ACCESS_KEY_ID=testing \\
         AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={twin.cloud.region}
  aws s3 cp ml/data/breast_cancer.csv s3://{out["DataBucketName"]}/{out["DataPrefix"]}new.csv
  aws stepfunctions list-executions --state-machine-arn {out["TrainingPipelineArn"]}
  aws sagemaker-runtime invoke-endpoint --endpoint-name {out["EndpointName"]} \\
      --content-type text/csv --body fileb://<(head -2 ml/data/breast_cancer.csv | tail -1 \\
      | cut -d, -f1-30) /dev/stdout
Ctrl-C stops it.""")
    watcher = Watcher(twin.client("stepfunctions"), workflows(twin))
    try:
        while True:
            watcher.poll()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the twin ...")
    finally:
        # A second Ctrl-C must not leave model servers or workers behind half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        twin.close()
    return 0


def _local_demo(args: argparse.Namespace) -> int:
    if args.scenario == "canary-rollback":
        from .demo.canary_rollback import run_canary_rollback

        return run_canary_rollback(timeout=args.timeout)
    from .demo.loop import run_demo

    return run_demo(timeout=args.timeout, dataset=args.dataset)


def _image_uri(args: argparse.Namespace) -> int:
    from .images import sklearn_image_uri

    print(sklearn_image_uri(args.region, args.framework_version))
    return 0


def _publish_code(args: argparse.Namespace) -> int:
    import boto3

    from .code_package import publish_code

    for uri in publish_code(boto3.client("s3"), args.bucket, args.version, Path(args.ml_dir)):
        print(uri)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="mlops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the offline twin").add_subparsers(
        dest="local_command", required=True
    )
    demo = local.add_parser("demo", help="run the whole loop once, offline")
    demo.add_argument("--timeout", type=float, default=300.0)
    demo.add_argument(
        "--scenario",
        choices=["loop", "canary-rollback"],
        default="loop",
        help="loop: data to a served model; canary-rollback: a faulty v2 "
        "canary under traffic rolled back by guardrails",
    )
    demo.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default="breast_cancer",
        help="loop scenario: the scikit-learn dataset to serve (binary, multiclass, regression)",
    )
    demo.set_defaults(func=_local_demo)
    up = local.add_parser("up", help="keep the twin up for any AWS client")
    up.add_argument("--port", type=int, default=4566)
    up.set_defaults(func=_local_up)
    image = commands.add_parser("image-uri", help="SageMaker scikit-learn image for a region")
    image.add_argument("--region", required=True)
    image.add_argument("--framework-version", default="1.2-1")
    image.set_defaults(func=_image_uri)
    publish = commands.add_parser("publish-code", help="upload ml/ to the artifacts bucket")
    publish.add_argument("--bucket", required=True)
    publish.add_argument("--version", required=True)
    publish.add_argument("--ml-dir", default="ml")
    publish.set_defaults(func=_publish_code)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
