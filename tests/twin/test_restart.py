"""A restart says what it keeps (mlops.twin.stack.RESTART_NOTICE), and the twin does what it
says: a second start provisions the same stack into an empty account."""

from __future__ import annotations

import pytest

from mlops.twin import RESTART_NOTICE
from mlops.twin.cloud import LocalCloud
from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.stack import ROOT, STACK_NAME, twin_parameters

pytestmark = [pytest.mark.twin, pytest.mark.slow]


def provisioned(cloud: LocalCloud) -> dict[str, str]:
    stack = Provisioner(cloud.client, cloud.runtime, ROOT, cloud.account, cloud.region).deploy(
        STACK_NAME, ROOT / "template.yaml", twin_parameters(cloud.region)
    )
    return stack.outputs


def test_a_restarted_twin_starts_from_an_empty_account_under_the_same_names():
    with LocalCloud() as first:
        before = provisioned(first)
        first.client("s3").put_object(
            Bucket=before["DataBucketName"], Key="datasets/kept.csv", Body=b"a,b\n1,2\n"
        )
        work_dir = first.work_dir
    assert not work_dir.exists(), "its working files went with it"
    with LocalCloud() as second:
        assert second.client("s3").list_buckets()["Buckets"] == [], "an empty account"
        after = provisioned(second)
        listed = second.client("s3").list_objects_v2(Bucket=after["DataBucketName"])
        assert "Contents" not in listed, "the data did not survive"
    assert after == before, "the same resource names"
    assert "keeps nothing across restarts" in RESTART_NOTICE
    assert "same resource names" in RESTART_NOTICE and "\n" not in RESTART_NOTICE
