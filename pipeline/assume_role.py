"""Print `export AWS_...` lines for the stage's PipelineExecutionRole, as `sam pipeline`'s
generated buildspecs assume it before working in a stage's account:

    eval "$(python pipeline/assume_role.py "$STAGE_ROLE" deploy)"

Prints nothing when no role is given (the build's own role is used)."""

from __future__ import annotations

import shlex
import sys

import boto3


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else ""
    if not role:
        return 0
    session = argv[2] if len(argv) > 2 else "delivery"
    credentials = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName=session)[
        "Credentials"
    ]
    for name, key in (
        ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
        ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
        ("AWS_SESSION_TOKEN", "SessionToken"),
    ):
        print(f"export {name}={shlex.quote(credentials[key])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
