"""CloudFormation's read operations for the stacks the twin provisioned, on the wire
(AWS CloudFormation API reference, DescribeStacks and ListStackResources; the query protocol:
form-encoded `Action=...` in, XML out). A stack the twin did not provision is left to moto,
which answers as CloudFormation does for a stack it does not know
(`ValidationError: Stack with id NAME does not exist`).
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from functools import partial
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from mlops.twin.aws.responses import Response
from mlops.twin.aws.timestamps import iso_millis
from mlops.twin.cloudformation.stacks import StackRecord, StackRecords
from mlops.twin.gateway import Gateway

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
RESOURCES_PAGE = 100  # summaries per ListStackResources page (inferred; AWS pages the list)


def connect(gateway: Gateway, records: StackRecords) -> None:
    gateway.route_action("cloudformation", "DescribeStacks", partial(_describe_stacks, records))
    gateway.route_action(
        "cloudformation", "ListStackResources", partial(_list_stack_resources, records)
    )


def _describe_stacks(records: StackRecords, params: dict[str, str]) -> Response | None:
    name = params.get("StackName")
    if name:
        record = records.find(name)
        return None if record is None else _result("DescribeStacks", {"Stacks": [_stack(record)]})
    found = records.all()
    if not found:
        return None  # moto's stacks, if any
    return _result("DescribeStacks", {"Stacks": [_stack(r) for r in found]})


def _list_stack_resources(records: StackRecords, params: dict[str, str]) -> Response | None:
    record = records.find(params.get("StackName", ""))
    if record is None:
        return None
    summaries = [
        {
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": record.stack.types[logical],
            "LastUpdatedTimestamp": record.resource_time(logical),
            "ResourceStatus": "UPDATE_COMPLETE"
            if record.resources_updated.get(logical)
            else "CREATE_COMPLETE",
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        for logical, physical in record.stack.physical_ids.items()
    ]
    try:
        start = _page_start(params.get("NextToken"), len(summaries))
    except ValueError:
        return _error("ValidationError", "Invalid NextToken")
    page = summaries[start : start + RESOURCES_PAGE]
    end = start + len(page)
    token = _page_token(end) if end < len(summaries) else None
    return _result("ListStackResources", {"StackResourceSummaries": page, "NextToken": token})


def _stack(record: StackRecord) -> dict[str, Any]:
    stack = record.stack
    return {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "Description": stack.description or None,
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": _text(value)}
            for key, value in stack.parameters.items()
        ],
        "CreationTime": record.created,
        "LastUpdatedTime": record.updated,
        "StackStatus": record.status,
        "DisableRollback": False,
        "NotificationARNs": [],
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack.outputs.items()],
        "Tags": [],
        "EnableTerminationProtection": False,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }


def _text(value: Any) -> str:
    """A parameter value as CloudFormation reports it: a list parameter comma-joined."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _page_token(index: int) -> str:
    return base64.urlsafe_b64encode(f"resources:{index}".encode()).decode()


def _page_start(token: str | None, total: int) -> int:
    if not token:
        return 0
    prefix, _, index = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    if prefix != "resources" or not index.isdigit() or int(index) > total:
        raise ValueError(token)
    return int(index)


# ---------------------------------------------------------------- the query protocol's XML


def _result(operation: str, result: dict[str, Any]) -> Response:
    request_id = str(uuid.uuid4())
    root = Element(f"{operation}Response", xmlns=NAMESPACE)
    _fill(SubElement(root, f"{operation}Result"), result)
    SubElement(SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
    return _xml_response(root, 200, request_id)


def _error(code: str, message: str, status: int = 400) -> Response:
    request_id = str(uuid.uuid4())
    root = Element("ErrorResponse", xmlns=NAMESPACE)
    _fill(SubElement(root, "Error"), {"Type": "Sender", "Code": code, "Message": message})
    SubElement(root, "RequestId").text = request_id
    return _xml_response(root, status, request_id)


def _xml_response(root: Element, status: int, request_id: str) -> Response:
    body = tostring(root, encoding="utf-8", xml_declaration=True)
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


def _fill(element: Element, value: Any) -> None:
    """Structures become child elements, lists `member` elements (the query protocol's
    default list serialization); None members are left out, as AWS omits unset fields."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                _fill(SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(SubElement(element, "member"), item)
    elif isinstance(value, datetime):
        element.text = iso_millis(value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
