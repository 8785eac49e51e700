"""The project's stack, running in the twin: the local cloud, template.yaml provisioned into it,
and ml/ published where the jobs expect it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.code_package import publish_code
from mlops.images import sklearn_image_uri
from mlops.twin.cloud import TIME_SCALE, LocalCloud
from mlops.twin.cloudformation.provision import Provisioner, Stack

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "mlops-twin"
CODE_VERSION = "twin"


def twin_parameters(region: str, **overrides: str) -> dict[str, str]:
    """What `sam deploy --parameter-overrides` would pass, with intervals fit for a laptop."""
    image = sklearn_image_uri(region)
    return {
        "TrainingImageUri": image,
        "InferenceImageUri": image,
        "CodeVersion": CODE_VERSION,
        "EndpointPollSeconds": "1",
        "AutoApprove": "true",
        "Environment": "dev",
        # AWS-valid values that the twin's clock (TIME_SCALE, 1/100) turns into seconds: a
        # 200 s bake lasts 2 s, a 30 s alarm period 0.3 s, the 20 s termination wait 0.2 s.
        # Each bake spans several alarm periods (as it should on AWS too), with room for a busy
        # CI machine to be slow to start the canary's model server.
        "BakeSeconds": "200",
        "TerminationWaitSeconds": "20",
        "MaxExecutionTimeoutSeconds": "900",
        "AlarmPeriodSeconds": "30",
        # Wait states run in real seconds: a short shadow window, and enough requests for it.
        "ShadowWindowSeconds": "8",
        "ShadowMinRequests": "20",
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
        return publish_code(
            self.client("s3"),
            self.outputs["ArtifactsBucketName"],
            self.stack.parameters["CodeVersion"],
            ml_dir or self.root / "ml",
        )

    def close(self) -> None:
        self.cloud.stop()


def start_stack(
    port: int = 0,
    root: Path = ROOT,
    time_scale: float = TIME_SCALE,
    stack_name: str = STACK_NAME,
    region: str = "us-east-1",
    **parameters: str,
) -> TwinStack:
    """Start a local cloud in `region` on `port` (0: any free port) whose clock runs at
    `time_scale` (real seconds per AWS second), provision template.yaml into it as stack
    `stack_name` with `parameters` over the twin's defaults, and publish ml/."""
    cloud = LocalCloud(port=port, region=region, time_scale=time_scale).start()
    try:
        stack = Provisioner(cloud.client, cloud.runtime, root, cloud.account, cloud.region).deploy(
            stack_name, root / "template.yaml", twin_parameters(cloud.region, **parameters)
        )
        cloud.stacks.put(stack)  # DescribeStacks and ListStackResources answer for it now
        twin = TwinStack(cloud, stack, root)
        twin.publish_code()
        return twin
    except BaseException:
        cloud.stop()
        raise
