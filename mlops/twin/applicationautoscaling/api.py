"""DescribeScalingActivities on the wire (awsJson, target AnyScaleFrontendService), served
from what the twin's target tracking did; moto 5.2.5 does not implement it. Shapes from
botocore application-autoscaling service-2.json: ScalingActivity (ActivityId, ServiceNamespace,
ResourceId, ScalableDimension, Description, Cause, StartTime, EndTime, StatusCode,
StatusMessage), most recent first, paged by MaxResults (default 50) and NextToken."""

from __future__ import annotations

from typing import Any

from mlops.twin.applicationautoscaling.backend import DIMENSION, NAMESPACE
from mlops.twin.applicationautoscaling.tracking_seam import TargetTracking
from mlops.twin.aws.responses import AwsError
from mlops.twin.gateway import Gateway, json_operation

TARGET = "AnyScaleFrontendService."


def scaling_activity(activity: dict[str, Any]) -> dict[str, Any]:
    done = activity.get("EndTime") is not None
    to = activity["To"]
    shaped = {
        "ActivityId": activity["ActivityId"],
        "ServiceNamespace": NAMESPACE,
        "ResourceId": activity["ResourceId"],
        "ScalableDimension": DIMENSION,
        "Description": f"Setting desired instance count to {to}.",
        "Cause": activity["Cause"],
        "StartTime": activity["StartTime"],
        "StatusCode": "Successful" if done else "InProgress",
        "StatusMessage": (
            f"Successfully set desired instance count to {to}. Change successfully fulfilled "
            "by sagemaker."
            if done
            else f"Setting desired instance count to {to}."
        ),
    }
    if done:
        shaped["EndTime"] = activity["EndTime"]
    return shaped


def describe_scaling_activities(tracking: TargetTracking, request: dict[str, Any]) -> dict:
    if "ServiceNamespace" not in request:
        raise AwsError("1 validation error detected: Value null at 'serviceNamespace' failed to "
                       "satisfy constraint: Member must not be null")  # fmt: skip
    found = [
        activity
        for activity in reversed(list(tracking.activities))
        if request["ServiceNamespace"] == NAMESPACE
        and request.get("ResourceId") in (None, activity["ResourceId"])
        and request.get("ScalableDimension") in (None, DIMENSION)
    ]
    start = int(request.get("NextToken") or 0)
    end = start + int(request.get("MaxResults") or 50)
    answer: dict[str, Any] = {"ScalingActivities": [scaling_activity(a) for a in found[start:end]]}
    if end < len(found):
        answer["NextToken"] = str(end)
    return answer


def connect(gateway: Gateway, tracking: TargetTracking) -> None:
    gateway.route_target(
        TARGET + "DescribeScalingActivities",
        json_operation(lambda request: describe_scaling_activities(tracking, request)),
    )
