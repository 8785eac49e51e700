"""Application Auto Scaling for the twin: moto 5.2.5 stores scalable targets and policies but
never scales anything, and keeps a deregistered target's policies.

`TargetTracking` (tracking_seam.py) evaluates every TargetTrackingScaling policy on
SageMakerVariantInvocationsPerInstance from the invocation metrics hosting publishes, and
changes the variant's instance count through UpdateEndpointWeightsAndCapacities, as the
service does with its service-linked role; hosting then runs that many model servers.
`DeregisterDeletesPolicies` (backend.py) completes DeregisterScalableTarget.
"""

from mlops.twin.applicationautoscaling.backend import DeregisterDeletesPolicies
from mlops.twin.applicationautoscaling.tracking_seam import TargetTracking

__all__ = ["DeregisterDeletesPolicies", "TargetTracking"]
