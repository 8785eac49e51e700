"""The twin's front door: only programs on this machine come in, never a web page.

The twin runs anything a caller asks (a training script, a processing container's entrypoint),
without checking signatures, on 127.0.0.1. Listening on loopback keeps other hosts out, but
not web pages the developer's browser has open: a page can send requests to 127.0.0.1 (a form
POST needs no preflight; moto's CORS answered every preflight yes), and a DNS-rebinding page
reaches it under its own host name. So, before anything else, the gateway refuses with 403:

- any request with an `Origin` header: browsers send it on every cross-origin request, on
  every preflight and on every POST (Fetch standard, "Origin header"); AWS SDKs, the AWS CLI
  and the twin's own workers never do;
- any request whose `Sec-Fetch-Site` header says another site made it (`cross-site`,
  `same-site`): browsers send it even on requests without `Origin`, such as an image's GET
  (Fetch Metadata Request Headers);
- any request whose `Host` is not a loopback name: `localhost` and names under `.localhost`
  (RFC 6761, section 6.3; S3 clients use `<bucket>.localhost` in virtual-hosted style),
  127.0.0.0/8 and ::1. A DNS-rebinding page's requests carry its own host name.

CORS is off as well (LocalCloud builds moto's app without flask-cors), so no answer invites a
browser to read it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from mlops.twin.aws.responses import AwsError

REFUSED_FETCH_SITES = ("cross-site", "same-site")


class Refused(AwsError):
    """403: the request did not come from a program on this machine."""

    code = "AccessDeniedException"
    status = 403


def is_loopback_host(host: str) -> bool:
    """`host` (a Host header: name or address, optional port) names this machine's loopback."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:4566
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:  # name:port or v4:port (a bare IPv6 address has several)
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(environ: dict[str, Any]) -> Refused | None:
    """Why the twin refuses this request, or None to let it in."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        return Refused(
            f"The twin refuses requests from web pages: this one carries Origin: {origin}. "
            "It serves AWS SDKs and CLIs on this machine only (CORS is off)."
        )
    site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
    if site in REFUSED_FETCH_SITES:
        return Refused(
            f"The twin refuses requests a web page made (Sec-Fetch-Site: {site}). "
            "It serves AWS SDKs and CLIs on this machine only."
        )
    host = environ.get("HTTP_HOST", "")
    if not is_loopback_host(host):
        return Refused(
            f"The twin answers only to loopback host names (localhost, *.localhost, 127.0.0.1, "
            f"[::1]); this request asked for Host: {host or '(none)'}."
        )
    return None
