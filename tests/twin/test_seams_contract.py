"""Contract tests: the moto 5.2.5 internals the twin's core seams patch or read.

Each test fails with a message naming the internal if a moto upgrade moves or renames it, so
the upgrade is a conscious change of the seam, not a silent drift. (The Lambda, jobs, hosting,
Step Functions, events and alarms seams keep their own contract tests beside their
conformance tests.)
"""

from __future__ import annotations

import inspect

import moto
import pytest


def test_moto_is_the_pinned_version():
    assert moto.__version__ == "5.2.5", "the seams are verified against moto 5.2.5 only"


def test_s3_eventbridge_notification_hook_exists():
    from moto.s3 import notifications

    params = list(inspect.signature(notifications._send_event_bridge_message).parameters)
    assert params == ["account_id", "bucket", "event_name", "key"], (
        "moto.s3.notifications._send_event_bridge_message changed; S3EventsSeam replaces it"
    )
    assert notifications._detail_type("s3:ObjectCreated:Put") == "Object Created"


def test_bucket_permission_check_is_get_permission():
    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket

    assert list(inspect.signature(FakeBucket.get_permission).parameters) == [
        "self",
        "action",
        "resource",
    ], "moto.s3.models.FakeBucket.get_permission changed"
    assert (
        "incoming_condition_values" in inspect.signature(IAMPolicy.is_action_permitted).parameters
    )


def test_replay_hook_and_attributes():
    from moto.events import models

    assert list(inspect.signature(models.Replay.replay_events).parameters) == ["self", "archive"], (
        "moto.events.models.Replay.replay_events changed"
    )
    source = inspect.getsource(models.Replay.__init__)
    for attribute in ("event_start_time", "event_end_time", "destination", "state", "end_time"):
        assert f"self.{attribute}" in source, f"Replay.{attribute} is gone"
    assert models.ReplayState.COMPLETED.value == "COMPLETED"
    assert isinstance(models.unix_time(), float)


def test_server_pieces_the_gateway_wraps():
    from moto.core.config import default_user_config
    from moto.moto_api._internal.models import moto_api_backend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.settings import moto_server_port

    # LocalCloud builds moto's app as DomainDispatcherApplication(create_backend_app).
    assert list(inspect.signature(DomainDispatcherApplication).parameters)[:1] == ["create_app"]
    assert list(inspect.signature(create_backend_app).parameters) == ["service"]
    assert "execute_state_machine" in default_user_config["stepfunctions"]
    assert list(inspect.signature(moto_api_backend.reset).parameters) == []
    assert inspect.signature(moto_server_port).parameters == {}, (
        "the ASL interpreter must still find the server through MOTO_PORT"
    )


def test_sagemaker_records_the_twin_reads():
    from moto.sagemaker.models import FakeProcessingJob, FakeTrainingJob, sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    for attribute in ("training_jobs", "processing_jobs", "model_packages"):
        assert hasattr(backend, attribute), f"SageMakerModelBackend.{attribute} is gone"
    assert list(inspect.signature(backend.describe_model_package).parameters) == [
        "model_package_name"
    ]
    for cls in (FakeTrainingJob, FakeProcessingJob):
        assert isinstance(inspect.getattr_static(cls, "response_object"), property)


@pytest.mark.parametrize("operation", ["UpdateEndpoint"])
def test_moto_still_lacks_what_hosting_provides(operation):
    """If moto gains UpdateEndpoint, revisit the hosting seam rather than shadow it blindly."""
    from moto.sagemaker.responses import SageMakerResponse

    assert not hasattr(SageMakerResponse, "update_endpoint"), (
        f"moto now implements {operation}; the gateway still routes it to the hosting seam"
    )


def test_update_model_package_signature_and_package_fields():
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

    assert list(inspect.signature(SageMakerModelBackend.update_model_package).parameters) == [
        "self",
        "model_package_arn",
        "model_approval_status",
        "approval_description",
        "customer_metadata_properties",
        "customer_metadata_properties_to_remove",
        "additional_inference_specifications_to_add",
    ], "moto update_model_package changed"
    source = inspect.getsource(ModelPackage.__init__)
    for attribute in ("customer_metadata_properties", "approval_description"):
        assert f"self.{attribute}" in source, f"ModelPackage.{attribute} is gone"


def test_application_autoscaling_records_the_twin_reads_and_patches():
    """applicationautoscaling/backend.py reads targets and policies and patches deregister."""
    from moto.applicationautoscaling.models import (
        ApplicationAutoscalingBackend,
        applicationautoscaling_backends,
    )

    backend = applicationautoscaling_backends["123456789012"]["us-east-1"]
    for attribute in ("targets", "policies", "scheduled_actions"):
        assert hasattr(backend, attribute), f"ApplicationAutoscalingBackend.{attribute} is gone"
    assert list(
        inspect.signature(ApplicationAutoscalingBackend.deregister_scalable_target).parameters
    ) == ["self", "namespace", "r_id", "dimension"]
    backend.register_scalable_target(
        "sagemaker", "endpoint/e/variant/v", "sagemaker:variant:DesiredInstanceCount", 1, 2, "", ""
    )
    policy = backend.put_scaling_policy(
        "p",
        "sagemaker",
        "endpoint/e/variant/v",
        "sagemaker:variant:DesiredInstanceCount",
        {"TargetValue": 1.0},
        "TargetTrackingScaling",
    )
    try:
        assert policy.target_tracking_scaling_policy_configuration == {"TargetValue": 1.0}
        assert (policy.resource_id, policy.scalable_dimension) == (
            "endpoint/e/variant/v",
            "sagemaker:variant:DesiredInstanceCount",
        )
        # moto keeps a deregistered target's policies: the twin's patch deletes them
        backend.deregister_scalable_target(
            "sagemaker", "endpoint/e/variant/v", "sagemaker:variant:DesiredInstanceCount"
        )
        assert any(p is policy for p in backend.policies.values())
    finally:
        backend.policies.clear()
