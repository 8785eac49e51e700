"""The project's stack, running in the twin: the local cloud, template.yaml provisioned into it,
and ml/ published where the jobs expect it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.code_package import content_version, publish_code
from mlops.images import sklearn_image_uri
from mlops.twin.cloud import TIME_SCALE, LocalCloud
from mlops.twin.cloudformation.provision import Provisioner, Stack

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "mlops-twin"
# What a restart keeps, in one line for `mlops local up` to print at start-up (README, "The
# twin"). tests/twin/test_restart.py holds the twin to it.
RESTART_NOTICE = (
    "The twin keeps nothing across restarts: stopping it discards its account (data, model "
    "registry, endpoint, ledger, executions, logs); the next start provisions template.yaml "
    "into an empty account again, under the same resource names, with nothing trained or "
    "deployed."
)


def twin_parameters(region: str, ml_dir: Path = ROOT / "ml", **overrides: str) -> dict[str, str]:
    """What `sam deploy --parameter-overrides` would pass, with intervals fit for a laptop.
    CodeVersion is the content version `mlops publish-code` gives `ml_dir` by default."""
    image = sklearn_image_uri(region)
    return {
        "TrainingImageUri": image,
        "InferenceImageUri": image,
        "CodeVersion": content_version(ml_dir),
        "EndpointPollSeconds": "1",
        "AutoApprove": "true",
        "Environment": "dev",
        # The template's own defaults, on the twin's clock (TIME_SCALE, 1/100): a 300 s bake
        # lasts 3 s, a 60 s alarm period 0.6 s (five periods per bake), the 120 s termination
        # wait 1.2 s, and the 3600 s execution timeout 36 s (it counts from the moment the new
        # fleet answers /ping: model servers start in real seconds, whatever the load).
        "BakeSeconds": "300",
        "TerminationWaitSeconds": "120",
        "MaxExecutionTimeoutSeconds": "3600",
        "AlarmPeriodSeconds": "60",
        # Wait states run in real seconds: a short shadow window, and enough requests for it.
        "ShadowWindowSeconds": "8",
        "ShadowMinRequests": "20",
        # The same for A/B tests: a minute at most, decided earlier on enough requests.
        "ABWindowSeconds": "60",
        "ABMinRequests": "30",
        # The hourly drift check would run every 36 s on the twin's clock, a processing job
        # each time, in every test stack; daily is every 14.4 min. Drift tests and the drift
        # demo start checks themselves or set their own schedule.
        "DriftCheckSchedule": "rate(1 day)",
        # at() names a moment of the calendar: the twin's Scheduler fires it on the wall clock,
        # whole seconds apart (mlops/twin/scheduler/runner.py), so a quiet window is real
        # seconds here. Twin stacks start a run at once for every upload (through RecordUpload,
        # with the burst input); the burst test and bench/burst.py set a window of seconds.
        "QuietWindowSeconds": "0",
    } | overrides


@dataclass
class TwinStack:
    cloud: LocalCloud
    stack: Stack
    root: Path = ROOT

    @property
    def outputs(self) -> dict[str, str]:
        return self.stack.outputs

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def upload_dataset(self, key: str, body: bytes) -> dict[str, Any]:
        return self.client("s3").put_object(
            Bucket=self.outputs["DataBucketName"], Key=self.outputs["DataPrefix"] + key, Body=body
        )

    def publish_code(self, ml_dir: Path | None = None) -> list[str]:
        """Publishes `ml_dir` (default ml/) as the stack's CodeVersion: refused
        (CodeVersionConflict) if that version already holds other content."""
        return publish_code(
            self.client("s3"),
            self.outputs["ArtifactsBucketName"],
            self.stack.parameters["CodeVersion"],
            ml_dir or self.root / "ml",
        )

    @property
    def restart_notice(self) -> str:
        """RESTART_NOTICE: what stopping and starting the twin again keeps (nothing)."""
        return RESTART_NOTICE

    def close(self) -> None:
        self.cloud.stop()


def start_stack(
    port: int = 0,
    root: Path = ROOT,
    time_scale: float = TIME_SCALE,
    ml_dir: Path | None = None,
    stack_name: str = STACK_NAME,
    region: str = "us-east-1",
    **parameters: str,
) -> TwinStack:
    """Start a local cloud in `region` on `port` (0: any free port) whose clock runs at
    `time_scale` (real seconds per AWS second), provision template.yaml into it as stack
    `stack_name` with `parameters` over the twin's defaults, and publish `ml_dir` (default:
    the repository's ml/) as its code version."""
    ml_dir = ml_dir or root / "ml"
    cloud = LocalCloud(port=port, region=region, time_scale=time_scale).start()
    try:
        return provision_app(
            cloud, stack_name, root, ml_dir, **twin_parameters(cloud.region, ml_dir, **parameters)
        )
    except BaseException:
        cloud.stop()
        raise


def provision_app(
    cloud: LocalCloud,
    stack_name: str,
    root: Path = ROOT,
    ml_dir: Path | None = None,
    **parameters: str,
) -> TwinStack:
    """Provision template.yaml into a running local cloud as `stack_name` with exactly
    `parameters`, and publish `ml_dir` (default: root's ml/) as its code version."""
    stack = Provisioner(cloud.client, cloud.runtime, root, cloud.account, cloud.region).deploy(
        stack_name, root / "template.yaml", parameters
    )
    cloud.stacks.put(stack)  # DescribeStacks and ListStackResources answer for it now
    twin = TwinStack(cloud, stack, root)
    twin.publish_code(ml_dir or root / "ml")
    return twin
