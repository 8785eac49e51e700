"""What a push to a connected repository starts ("Automate starting pipelines using triggers
and filtering" and "Add trigger with code push or pull request event types", CodePipeline user
guide; GitConfiguration / GitPushFilter in the API reference).

For every pipeline whose CodeStarSourceConnection action names the pushed repository through
the same connection:
- with a trigger on that action (V2), the push starts an execution if any of its push filters
  matches (at most 3 filters, at most 8 patterns per list; valid combinations: tags, branches,
  branches + file paths). A filter matches a tag push on `tags`, a branch push on `branches`
  and, when given, `filePaths` against the files the pushed commits change. In each list
  "excludes take priority over includes"; an empty or absent includes list includes all.
  The execution's trigger is {triggerType: WebhookV2, triggerDetail: <connection ARN>};
- without a trigger ("No filter"), a push to the action's BranchName starts an execution
  (triggerType Webhook), unless DetectChanges is false.
The source action then fetches the pushed commit, not the branch head at the time it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops.twin.aws.globs import GlobError, glob_match
from mlops.twin.codeconnections.connections import Connections
from mlops.twin.codeconnections.pushes import Push
from mlops.twin.codepipeline.executor import PipelineExecutor
from mlops.twin.codepipeline.model import SourceOverride

MAX_PUSH_FILTERS = 3
MAX_PATTERNS = 8
SOURCE_PROVIDER = "CodeStarSourceConnection"


class TriggerError(ValueError):
    """The trigger declaration is invalid; the message says why."""


def validate_triggers(declaration: dict[str, Any]) -> None:
    actions = {a["name"] for _, a in _source_actions(declaration)}
    for trigger in declaration.get("triggers") or []:
        if trigger.get("providerType") != SOURCE_PROVIDER:
            raise TriggerError(f"trigger providerType must be {SOURCE_PROVIDER}")
        git = trigger.get("gitConfiguration") or {}
        if git.get("sourceActionName") not in actions:
            raise TriggerError(
                f"trigger sourceActionName {git.get('sourceActionName')!r} is not a "
                f"{SOURCE_PROVIDER} action of the pipeline"
            )
        pushes = git.get("push") or []
        if len(pushes) > MAX_PUSH_FILTERS:
            raise TriggerError(f"at most {MAX_PUSH_FILTERS} push filters, got {len(pushes)}")
        for push_filter in pushes:
            _validate_filter(push_filter)


def _validate_filter(push_filter: dict[str, Any]) -> None:
    kinds = {k for k in ("tags", "branches", "filePaths") if push_filter.get(k)}
    if kinds not in ({"tags"}, {"branches"}, {"branches", "filePaths"}):
        raise TriggerError(
            "a push filter filters on tags, on branches, or on branches and file paths; "
            f"got {sorted(kinds) or 'nothing'}"
        )
    for kind in kinds:
        for side in ("includes", "excludes"):
            patterns = push_filter[kind].get(side) or []
            if len(patterns) > MAX_PATTERNS:
                raise TriggerError(f"{kind}.{side}: at most {MAX_PATTERNS} patterns")
            for pattern in patterns:
                try:
                    glob_match(pattern, "")
                except GlobError as error:
                    raise TriggerError(str(error)) from None


def filter_matches(push_filter: dict[str, Any], push: Push) -> bool:
    if push.kind == "tag":
        return bool(push_filter.get("tags")) and _selected(push_filter["tags"], [push.name])
    if not push_filter.get("branches") or not _selected(push_filter["branches"], [push.name]):
        return False
    paths = push_filter.get("filePaths")
    return _selected(paths, list(push.changed_files)) if paths else True


def _selected(criteria: dict[str, Any], values: list[str]) -> bool:
    """Any value included (by an include pattern, or by none being given) and not excluded."""
    includes, excludes = criteria.get("includes") or [], criteria.get("excludes") or []
    return any(
        (not includes or any(glob_match(p, v) for p in includes))
        and not any(glob_match(p, v) for p in excludes)
        for v in values
    )


class PushTriggers:
    """The listener the connected repositories call on every push."""

    def __init__(self, executor: PipelineExecutor, connections: Connections) -> None:
        self.executor, self.connections = executor, connections

    def __call__(self, push: Push) -> list[str]:
        pushed = self.connections.find(push.repository.connection_arn)
        messages = []
        for name in self.executor.pipeline_names():
            declaration, _ = self.executor.declaration(name)
            for _, action in _source_actions(declaration):
                config = action.get("configuration") or {}
                connection = self.connections.find(config.get("ConnectionArn", ""))
                if connection is not pushed or (
                    config.get("FullRepositoryId") != push.repository.full_repository_id
                ):
                    continue
                trigger_type, reason = self._decide(declaration, action, push)
                if trigger_type is None:
                    messages.append(f"CodePipeline {name}: {reason}; nothing starts")
                    continue
                run = self.executor.start(
                    name,
                    {"triggerType": trigger_type, "triggerDetail": config["ConnectionArn"]},
                    source_overrides={
                        action["name"]: SourceOverride(
                            push.new, push.name if push.kind == "branch" else None
                        )
                    },
                )
                messages.append(
                    f"CodePipeline {name}: execution {run.id} started for {push.new[:7]}"
                )
        return messages

    def _decide(
        self, declaration: dict[str, Any], action: dict[str, Any], push: Push
    ) -> tuple[str | None, str]:
        triggers = [
            t
            for t in declaration.get("triggers") or []
            if (t.get("gitConfiguration") or {}).get("sourceActionName") == action["name"]
        ]
        if triggers:
            try:
                validate_triggers(declaration)
            except TriggerError as error:
                return None, f"invalid trigger ({error})"
            filters = [f for t in triggers for f in t["gitConfiguration"].get("push") or []]
            if any(filter_matches(f, push) for f in filters):
                return "WebhookV2", ""
            return None, f"{push.ref} does not match the trigger's push filters"
        config = action.get("configuration") or {}
        if str(config.get("DetectChanges", "true")).lower() == "false":
            return None, "DetectChanges is false"
        if push.kind == "branch" and push.name == config.get("BranchName"):
            return "Webhook", ""
        return None, f"{push.ref} is not branch {config.get('BranchName')}"


def _source_actions(declaration: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for stage in declaration.get("stages") or []:
        for action in stage.get("actions") or []:
            if (action.get("actionTypeId") or {}).get("provider") == SOURCE_PROVIDER:
                yield stage["name"], action
