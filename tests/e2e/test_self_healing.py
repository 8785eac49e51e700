"""Serving heals itself in the whole stack: the live model server is killed under traffic; the
twin replaces it from the same model (as SageMaker replaces an instance that fails its health
checks) and clients get answers again. The test reports the seconds to recovery and the
RollbackPipeline runs the outage started (the product claims a rollback once per alarm; the
twin's part is that the alarm does not flap)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from botocore.config import Config

from mlops.demo.loop import sample_rows

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

RECOVERY_BOUND_S = 60.0  # one model-server start, generous for a machine under load


class Answers:
    """Invokes the endpoint every 50 ms without client retries; records (time, ok)."""

    def __init__(self, harness, body: bytes) -> None:
        self.runtime = harness.twin.cloud.client(
            "sagemaker-runtime", config=Config(retries={"total_max_attempts": 1})
        )
        self.endpoint, self.body = harness.twin.outputs["EndpointName"], body
        self.seen: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="text/csv", Body=self.body
                )
                self.seen.append((time.monotonic(), True))
            except self.runtime.exceptions.ClientError:
                self.seen.append((time.monotonic(), False))

    def __enter__(self) -> Answers:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def first_success_after(self, moment: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = [t for t, fine in list(self.seen) if fine and t > moment]
            if ok:
                return ok[0]
            time.sleep(0.05)
        return None


def test_a_killed_model_server_is_replaced_under_traffic(served, report):
    endpoint = served.twin.outputs["EndpointName"]
    config = served.client("sagemaker").describe_endpoint(EndpointName=endpoint)[
        "EndpointConfigName"
    ]
    (server,) = served.twin.cloud.hosting.servers(endpoint)
    before = set(served.watcher.executions)
    with Answers(served, sample_rows(served.dataset(), 1)[0].encode()) as answers:
        time.sleep(1.0)
        killed = time.monotonic()
        os.kill(server.popen.pid, signal.SIGKILL)
        back = answers.first_success_after(killed, RECOVERY_BOUND_S)
        time.sleep(3.0)  # several alarm periods of traffic after the recovery
    assert back is not None, f"no answer within {RECOVERY_BOUND_S}s of the kill"
    failed = sum(1 for t, fine in answers.seen if not fine and t > killed)
    after = [fine for t, fine in answers.seen if t > back]
    served.watcher.poll()  # an alarm of the outage would have started its run by now
    runs = served.settle(before, timeout=120) if set(served.watcher.executions) - before else []
    rollbacks = [v for v in runs if v.workflow == "RollbackPipeline"]
    report(
        f"model server killed under traffic: first successful answer {back - killed:.2f} s "
        f"later; {failed} failed requests; {len(rollbacks)} RollbackPipeline run(s) started "
        f"({', '.join(served.states_entered(v.arn)[-1] for v in rollbacks) or 'none'})"
    )
    assert all(after), "every request after the recovery was answered"
    (replacement,) = served.twin.cloud.hosting.servers(endpoint)
    assert replacement.popen.pid != server.popen.pid
    described = served.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config, "the same model serves again"
    assert len(rollbacks) <= 1, [served.why(v) for v in rollbacks]
