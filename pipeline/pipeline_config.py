"""Write the pipeline stack's current parameter values as a CloudFormation template
configuration file ("AWS CloudFormation artifacts", CloudFormation user guide: {"Parameters":
{...}}), so the UpdatePipeline action redeploys codepipeline.yaml with the values it was
deployed with. The values come from the build's PARAM_<name> variables."""

from __future__ import annotations

import json
import os
import sys

PREFIX = "PARAM_"


def configuration(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "Parameters": {
            name.removeprefix(PREFIX): value
            for name, value in sorted(environ.items())
            if name.startswith(PREFIX)
        }
    }


if __name__ == "__main__":
    json.dump(configuration(dict(os.environ)), sys.stdout, indent=2)
    sys.stdout.write("\n")
