"""The connected repository's post-receive hook: it reports every pushed ref update to the
twin on loopback (and nowhere else), as the provider's webhook reports a push to the
connection. git runs it after the refs are updated and shows its output to the pusher as
"remote: ..." lines; a twin that does not answer never fails the push."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

HOOK_PATH = "/_twin/codeconnections/push"

_SCRIPT = '''#!{python}
"""post-receive: report this push to the twin at {url} (loopback only)."""
import json, sys, urllib.request

updates = [line.split() for line in sys.stdin if line.strip()]
body = json.dumps({{
    "repository": {repository!r},
    "updates": [{{"old": o, "new": n, "ref": r}} for o, n, r in updates],
}}).encode()
request = urllib.request.Request({url!r}, body, {{"Content-Type": "application/json"}})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
try:
    with opener.open(request, timeout=60) as response:
        for line in json.loads(response.read()).get("messages", []):
            print(line)
except Exception as error:  # the push stands; only the twin did not hear of it
    print("the twin did not receive this push:", error, file=sys.stderr)
'''


def install_hook(bare_repository: Path, port: int, full_repository_id: str) -> Path:
    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
    hook = bare_repository / "hooks" / "post-receive"
    hook.write_text(
        _SCRIPT.format(python=sys.executable, url=url, repository=full_repository_id),
        encoding="utf-8",
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return hook
