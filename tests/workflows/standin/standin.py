"""A stand-in for any of the project's Lambda functions, run by the twin's Lambda runtime.

The test writes `script.json` in $STANDIN_DIR: for each function (logical id) a list of
outcomes, used in call order (the last one repeats):
    {"return": <payload>}                          the handler's result
    {"raise": "DatasetInvalid", "message": "..."}  a domain error of mlops_common.errors, which
                                                   Lambda reports with errorType = class name
Every call is appended to `calls.jsonl` (function, payload) before it is answered.
"""

import fcntl
import json
import os
from pathlib import Path

from mlops_common import errors


def handler(event, context):
    folder = Path(os.environ["STANDIN_DIR"])
    function = os.environ["STANDIN_FUNCTION"]
    with open(folder / "lock", "a") as lock:  # Map iterations call in parallel
        fcntl.flock(lock, fcntl.LOCK_EX)
        calls = folder / "calls.jsonl"
        lines = calls.read_text().splitlines() if calls.exists() else []
        done = sum(json.loads(line)["function"] == function for line in lines)
        with calls.open("a") as log:
            log.write(json.dumps({"function": function, "payload": event}) + "\n")
        outcomes = json.loads((folder / "script.json").read_text())[function]
    outcome = outcomes[min(done, len(outcomes) - 1)]
    if "raise" in outcome:
        raise getattr(errors, outcome["raise"])(outcome["message"])
    return outcome["return"]
