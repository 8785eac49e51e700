"""Returning production to the last known-good model, and the audit trail of every rollback.

Three triggers start the RollbackPipeline: the live package turning Rejected, a regression
alarm on the live endpoint after its deployment finished, and an operator request
(`{"operator": {"requested_by": ..., "reason": ...}}`). The pipeline plans once it holds the
endpoint lock (domain.endpoint_lock). Each trigger is checked against the endpoint's current
state first, so a late, replayed or duplicate trigger never rolls back twice; an alarm that
stays in ALARM and enters it again starts at most one rollback per live endpoint config (a
ledger claim on the alarm and the config).

The last known-good version is the newest Approved version older than the live one that passes
provenance (domain.provenance). Newer approved versions that fail it are passed over, named in
the plan, and rejected with the rollback's audit entry, so the champion (domain.champion) is
again the version that serves.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..adapters.endpoints import Endpoints
from ..adapters.ledger import Ledger, now_iso
from ..adapters.registry import ModelRegistry
from ..adapters.s3 import S3Store
from ..errors import EventMalformed
from ..models import (
    Execution,
    OperatorRequest,
    PassedOver,
    RecordRollbackOutput,
    RollbackPlan,
)
from ..settings import RollbackSettings
from ..timestamps import parse_timestamp
from .deployment import BUSY, endpoint_requests, live_package_version
from .events import parse_model_package_change
from .provenance import provenance_problems


def audit_key(endpoint_name: str) -> str:
    return f"rollback#{endpoint_name}"


def alarm_claim_key(alarm_name: str, endpoint_config: str) -> str:
    """One alarm-triggered rollback per alarm and live endpoint config."""
    return f"rollback#alarm#{alarm_name}#{endpoint_config}"


def _trigger(request: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, who, why) of the request that started the rollback."""
    if "operator" in request:
        try:
            operator = OperatorRequest.model_validate(request["operator"])
        except ValidationError as exc:
            raise EventMalformed(f"operator request needs requested_by and reason: {exc}") from exc
        return "operator", operator.requested_by, operator.reason
    source = request.get("source")
    if source == "aws.sagemaker":
        detail = parse_model_package_change(request).detail
        return (
            "rejected-package",
            "model registry",
            f"version {detail.ModelPackageVersion} was set to {detail.ModelApprovalStatus}",
        )
    if source == "aws.cloudwatch" and request.get("detail-type") == "CloudWatch Alarm State Change":
        detail = request.get("detail") or {}
        state = (detail.get("state") or {}).get("value")
        return "alarm", f"alarm {detail.get('alarmName')}", f"alarm entered {state}"
    raise EventMalformed(
        "expected a Model Package State Change, a CloudWatch Alarm State "
        "Change or {'operator': {'requested_by', 'reason'}}"
    )


def plan_rollback(
    request: dict[str, Any],
    execution: Execution,
    settings: RollbackSettings,
    registry: ModelRegistry,
    endpoints: Endpoints,
    store: S3Store,
    ledger: Ledger,
) -> RollbackPlan:
    kind, who, why = _trigger(request)
    if kind == "rejected-package":
        group = parse_model_package_change(request).detail.ModelPackageGroupName
        if group != settings.model_package_group:
            raise EventMalformed(f"package group {group} is not this stack's")
    if kind == "alarm" and (request.get("detail") or {}).get("alarmName") != (
        settings.error_alarm_name
    ):
        raise EventMalformed(
            f"alarm {(request.get('detail') or {}).get('alarmName')} is not this stack's "
            f"rollback alarm {settings.error_alarm_name}"
        )
    base: dict[str, Any] = {
        "trigger": kind,
        "requested_by": who,
        "endpoint_name": settings.endpoint_name,
        "execution_name": execution.name,
    }

    def skip(reason: str) -> RollbackPlan:
        return RollbackPlan(action="SKIP", reason=f"{why}; {reason}", **base)

    endpoint = endpoints.describe(settings.endpoint_name)
    if endpoint is None:
        return skip(f"{settings.endpoint_name} does not exist: nothing is live")
    if endpoint["EndpointStatus"] in ("Failed", "UpdateRollbackFailed"):
        return skip(
            f"{settings.endpoint_name} is {endpoint['EndpointStatus']}: an operator must repair "
            "it before a rollback can run"
        )
    if endpoint["EndpointStatus"] in BUSY:  # not ours: this execution holds the lock
        return RollbackPlan(
            action="WAIT",
            reason=f"{why}; {settings.endpoint_name} is {endpoint['EndpointStatus']} by a change "
            "outside the control plane; waiting for it to settle",
            **base,
        )
    if endpoint["EndpointStatus"] != "InService":
        return skip(
            f"{settings.endpoint_name} is {endpoint['EndpointStatus']}: an operator must "
            "repair it before a rollback can run"
        )
    live = live_package_version(endpoints, endpoint)
    base |= {"from_version": live, "previous_config": endpoint["EndpointConfigName"]}
    if kind == "rejected-package":
        detail = parse_model_package_change(request).detail
        if detail.ModelApprovalStatus != "Rejected" or detail.ModelPackageVersion != live:
            return skip(f"the live version is {live}, so production is unaffected")
    if kind == "alarm":
        if (request.get("detail") or {}).get("state", {}).get("value") != "ALARM":
            return skip("only an alarm entering ALARM rolls back")
        fired = parse_timestamp(request.get("time"))
        deployed = parse_timestamp(endpoint.get("LastModifiedTime"))
        if fired is None or (deployed is not None and fired <= deployed):
            return skip(
                "the alarm predates the live configuration (it fired during the "
                "deployment, which guardrails already handled)"
            )
        alarm, config = request["detail"]["alarmName"], endpoint["EndpointConfigName"]
        key = alarm_claim_key(alarm, config)
        attributes = {"execution_arn": execution.id, "kind": "alarm-rollback"}
        earlier = ledger.claim(key, execution.name, attributes)
        if earlier is not None:
            return skip(
                f"execution {earlier['run_id']} already answered this alarm for {config}, "
                "which is still live: one rollback per alarm and live configuration"
            )
        # Not a run in progress: the claim is the record that this execution answered it.
        ledger.finish(key, execution.name, "ANSWERED", {"alarm_time": request.get("time")})
    approved = registry.approved_packages()
    live_arn = next(
        (p["ModelPackageArn"] for p in approved if p.get("ModelPackageVersion") == live), None
    )
    base["from_package_arn"] = live_arn
    # Back, never forward: the newest approved version older than the live one that passes
    # provenance; newer ones that fail it are passed over.
    passed_over: list[PassedOver] = []
    for summary in approved:
        if live is not None and summary.get("ModelPackageVersion", 0) >= live:
            continue
        package = registry.describe(summary["ModelPackageArn"])
        if package is None or package.get("ModelApprovalStatus") != "Approved":
            continue
        problems = provenance_problems(package, settings, store)
        if problems:
            passed_over.append(
                PassedOver(
                    model_package_arn=package["ModelPackageArn"],
                    version=package["ModelPackageVersion"],
                    problems="; ".join(problems),
                )
            )
            continue
        version = package["ModelPackageVersion"]
        skipped = "".join(f"; version {p.version} passed over: {p.problems}" for p in passed_over)
        return RollbackPlan(
            action="ROLLBACK",
            reason=f"{why}; rolling back from version {live} to {version}{skipped}",
            model_package_arn=package["ModelPackageArn"],
            version=version,
            passed_over=passed_over,
            **endpoint_requests(package, version, execution.name, settings),
            **base,
        )
    failing = "".join(f"; version {p.version} fails provenance: {p.problems}" for p in passed_over)
    return RollbackPlan(
        action="NOTHING",
        reason=f"{why}; no approved version older than the live one ({live}) "
        f"{'passes provenance' if passed_over else 'exists'}, so the endpoint keeps serving "
        f"it{failing}",
        passed_over=passed_over,
        **base,
    )


def record_rollback(
    plan: RollbackPlan,
    execution: Execution,
    ledger: Ledger,
    registry: ModelRegistry,
) -> RecordRollbackOutput:
    """Audit entry (when, why, who or what, from, to) and the bad version taken out of the
    pool of candidates for the next rollback or replayed approval, with the versions passed
    over for failing provenance: the champion is again the version that serves."""
    rejected = None
    if plan.from_package_arn:
        package = registry.describe(plan.from_package_arn)
        if package is not None and package["ModelApprovalStatus"] == "Approved":
            registry.set_approval(
                plan.from_package_arn, "Rejected", f"rolled back by {execution.name}: {plan.reason}"
            )
            rejected = plan.from_package_arn
    for passed in plan.passed_over:
        registry.set_approval(
            passed.model_package_arn,
            "Rejected",
            f"passed over by rollback {execution.name}: fails provenance: {passed.problems}",
        )
    key = audit_key(plan.endpoint_name)
    ledger.append(
        key,
        {
            "when": now_iso(),
            "why": plan.reason,
            "trigger": plan.trigger,
            "requested_by": plan.requested_by,
            "from_version": plan.from_version,
            "to_version": plan.version,
            "from_config": plan.previous_config,
            "to_config": plan.endpoint_config.get("EndpointConfigName"),
            "passed_over": [p.version for p in plan.passed_over],
            "execution_arn": execution.id,
        },
    )
    return RecordRollbackOutput(
        audit_key=key, from_version=plan.from_version, to_version=plan.version, rejected=rejected
    )
