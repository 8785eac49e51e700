"""Write a stage's template configuration file for the CloudFormation deploy action: the app's
parameters for that stage (a JSON object, the pipeline's <Stage>ParameterOverrides) plus
CodeVersion = the commit being delivered ("AWS CloudFormation artifacts", CloudFormation user
guide). The deploy action's ParameterOverrides set CodeVersion again, from the Source action's
CommitId variable."""

from __future__ import annotations

import argparse
import json
import sys


def configuration(overrides: str, code_version: str) -> dict[str, dict[str, str]]:
    try:
        parameters = json.loads(overrides or "{}")
    except json.JSONDecodeError as error:
        raise SystemExit(f"the stage's parameter overrides are not JSON: {error}") from None
    if not isinstance(parameters, dict):
        raise SystemExit("the stage's parameter overrides must be a JSON object")
    if "CodeVersion" in parameters:
        raise SystemExit("CodeVersion is the commit; remove it from the parameter overrides")
    values = {str(k): str(v) for k, v in parameters.items()}
    return {"Parameters": values | {"CodeVersion": code_version}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--overrides", required=True)
    parser.add_argument("--code-version", required=True)
    args = parser.parse_args()
    json.dump(configuration(args.overrides, args.code_version), sys.stdout, indent=2)
    sys.stdout.write("\n")
