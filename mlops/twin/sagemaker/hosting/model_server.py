"""One inference server process: the SageMaker hosting container contract on loopback.

    python -m mlops.twin.sagemaker.hosting.model_server --model-dir D [--code-dir C] [--program P]

Serves GET /ping (200 once the model is loaded, 503 before) and POST /invocations on
127.0.0.1 with an OS-assigned port. The first line on stdout is `{"port": N}`; after it
stdout is pointed at stderr so user prints land in the server log (the twin's stand-in
for the CloudWatch log stream). If model_fn fails the process logs the traceback and
exits 1, as a container whose worker cannot boot would. It also exits when its stdin
closes, so a crashed parent never leaves servers behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlops.twin.sagemaker.hosting.dispatch import JSON, InferenceHandler

MODEL_LATENCY_HEADER = "X-Twin-Model-Latency-Us"


class _State:
    handler: InferenceHandler | None = None
    default_accept: str = JSON


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "twin-model-server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    def _reply(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path != "/ping":
            self._reply(404, b"", "text/plain")
        elif _State.handler is None:
            self._reply(503, b"", "text/plain")
        else:
            self._reply(200, b"", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/invocations":
            self._reply(404, b"", "text/plain")
            return
        handler = _State.handler
        if handler is None:
            self._reply(503, b"model not loaded", "text/plain")
            return
        # Header names as the container reads them (sagemaker-containers _worker.Request).
        content_type = self.headers.get("ContentType") or self.headers.get("Content-Type") or JSON
        accept = self.headers.get("Accept") or _State.default_accept
        if accept == "*/*":
            accept = _State.default_accept
        started = time.perf_counter()
        outcome = handler.invoke(body, content_type, accept)
        latency_us = int((time.perf_counter() - started) * 1_000_000)
        self._reply(
            outcome.status,
            outcome.body,
            outcome.content_type,
            {MODEL_LATENCY_HEADER: str(latency_us)},
        )


def _exit_when_parent_goes(stream) -> None:
    stream.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


def _load(model_dir: Path, code_dir: Path | None, program: str | None) -> None:
    try:
        _State.handler = InferenceHandler(model_dir, code_dir, program)
        sys.stderr.write("model loaded\n")
    except BaseException:
        sys.stderr.write("model load failed\n" + traceback.format_exc())
        sys.stderr.flush()
        os._exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--code-dir", type=Path)
    parser.add_argument("--program")
    args = parser.parse_args(argv)
    _State.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or JSON

    server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
    server.daemon_threads = True
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    threading.Thread(target=_exit_when_parent_goes, args=(sys.stdin,), daemon=True).start()
    threading.Thread(
        target=_load, args=(args.model_dir, args.code_dir, args.program), daemon=True
    ).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
