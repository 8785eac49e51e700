"""The CloudFormation deploy action ("AWS CloudFormation deploy action reference", CodePipeline
user guide; "AWS CloudFormation configuration properties reference", CloudFormation user
guide) on the twin's provisioner: ActionMode CREATE_UPDATE creates the stack or updates it in
place (cloudformation/update.py: the data stays), REPLACE_ON_FAILURE does the same (the twin
records no stack in a failed state: a failed creation leaves no stack to replace).

TemplatePath and TemplateConfiguration are `ArtifactName::path` in an input artifact; the
configuration file's "Parameters" come first, ParameterOverrides (a JSON object) win over
them. Capabilities must acknowledge IAM resources (CAPABILITY_IAM or CAPABILITY_NAMED_IAM)
and a transform (CAPABILITY_AUTO_EXPAND), as CloudFormation's InsufficientCapabilities
refuses otherwise. The stack's outputs become the action's output variables; OutputFileName
writes them as JSON into the output artifact. A template that fails to provision fails the
action with the reason. Code `sam package` uploaded (s3:// locations in the template) is
downloaded and unpacked from the twin's S3; local CodeUri paths are read beside the template.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.twin.cloudformation.provision import Provisioner
from mlops.twin.cloudformation.stacks import StackRecords
from mlops.twin.cloudformation.template import TemplateError, load_template
from mlops.twin.codepipeline import artifacts
from mlops.twin.codepipeline.providers import ActionContext, ActionResult

MODES = ("CREATE_UPDATE", "REPLACE_ON_FAILURE")
ProvisionerFactory = Callable[[Path, Callable[[str, str], Path]], Provisioner]


class ConfigurationError(ValueError):
    """The action's configuration is refused; the message says why."""


class CloudFormationAction:
    def __init__(self, stacks: StackRecords, provisioner: ProvisionerFactory, work_dir: Path):
        self.stacks, self.provisioner, self.work_dir = stacks, provisioner, work_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def run(self, context: ActionContext) -> ActionResult:
        workspace = self.work_dir / context.action_execution_id
        try:
            stack_name, template, parameters = self._read(context, workspace)
        except ConfigurationError as error:
            return ActionResult.failed(str(error), code="ConfigurationError")
        with self._lock(stack_name):
            previous = self.stacks.find(stack_name)
            s3 = context.client("s3")
            provisioner = self.provisioner(
                template.parent, lambda bucket, key: _fetch(s3, bucket, key, self.work_dir)
            )
            try:
                stack = provisioner.deploy(
                    stack_name, template, parameters, previous.stack if previous else None
                )
            except (TemplateError, ClientError, BotoCoreError, OSError, ValueError) as error:
                verb = "update" if previous else "create"
                return ActionResult.failed(
                    f"Stack {stack_name} failed to {verb}: {error}", summary=f"Failed: {error}"
                )
            self.stacks.put(stack)
        output_file = context.configuration.get("OutputFileName")
        if output_file and context.output_artifacts:
            body = json.dumps(stack.outputs, indent=2).encode()
            artifacts.upload(s3, context.output_artifacts[0], {output_file: body})
        return ActionResult(
            "Succeeded",
            summary=f"Stack {stack_name} {'updated' if previous else 'created'}",
            external_execution_id=stack.stack_id,
            output_variables=dict(stack.outputs),
        )

    def _lock(self, stack_name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(stack_name, threading.Lock())

    def _read(self, context: ActionContext, workspace: Path) -> tuple[str, Path, dict[str, str]]:
        config = context.configuration
        mode = config.get("ActionMode", "")
        if mode not in MODES:
            raise ConfigurationError(
                f"ActionMode {mode or '(missing)'}: the twin runs {' and '.join(MODES)}"
            )
        if not config.get("StackName"):
            raise ConfigurationError("Missing required configuration: StackName")
        if not config.get("TemplatePath"):
            raise ConfigurationError("Missing required configuration: TemplatePath")
        inputs = {a["name"]: a for a in context.input_artifacts}
        template = _artifact_file(context, inputs, config["TemplatePath"], workspace)
        parameters: dict[str, str] = {}
        if config.get("TemplateConfiguration"):
            path = _artifact_file(context, inputs, config["TemplateConfiguration"], workspace)
            parameters |= _parameters(path.read_text(), "TemplateConfiguration", nested=True)
        if config.get("ParameterOverrides"):
            parameters |= _parameters(config["ParameterOverrides"], "ParameterOverrides")
        _check_capabilities(template, config.get("Capabilities", ""))
        return config["StackName"], template, parameters


def _artifact_file(
    context: ActionContext, inputs: dict[str, dict[str, Any]], reference: str, workspace: Path
) -> Path:
    artifact, separator, path = reference.partition("::")
    if not separator or not path:
        raise ConfigurationError(f"{reference} is not of the form ArtifactName::FileName")
    if artifact not in inputs:
        raise ConfigurationError(f"{reference}: {artifact} is not an input artifact of the action")
    root = workspace / artifact
    if not root.is_dir():
        try:
            artifacts.extract(context.client("s3"), inputs[artifact], root)
        except (ClientError, zipfile.BadZipFile) as error:
            raise ConfigurationError(f"Input artifact {artifact} cannot be read: {error}") from None
    target = (root / path).resolve()
    if not target.is_file() or not target.is_relative_to(root.resolve()):
        raise ConfigurationError(f"File {path} does not exist in artifact {artifact}")
    return target


def _parameters(text: str, what: str, nested: bool = False) -> dict[str, str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{what} is not valid JSON: {error}") from None
    if nested:  # a template configuration file: {"Parameters": {...}, "Tags": ..., ...}
        document = document.get("Parameters", {}) if isinstance(document, dict) else None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{what}: the parameters must be a JSON object")
    return {str(k): str(v) for k, v in document.items()}


def _check_capabilities(template_path: Path, capabilities: str) -> None:
    given = {c.strip() for c in capabilities.split(",") if c.strip()}
    try:
        template = load_template(template_path)
    except Exception as error:  # noqa: BLE001 - any YAML problem is the template's
        raise ConfigurationError(f"Template format error: {error}") from None
    types = {str(r.get("Type", "")) for r in (template.get("Resources") or {}).values()}
    needed = []
    iam = any(t.startswith("AWS::IAM::") for t in types) or any(
        t.startswith("AWS::Serverless::")
        for t in types  # SAM creates their roles
    )
    if iam and not given & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        needed.append("CAPABILITY_IAM")
    if template.get("Transform") and "CAPABILITY_AUTO_EXPAND" not in given:
        needed.append("CAPABILITY_AUTO_EXPAND")
    if needed:
        raise ConfigurationError(f"Requires capabilities : [{', '.join(needed)}]")


def _fetch(s3: Any, bucket: str, key: str, work_dir: Path) -> Path:
    """Packaged code on this machine: a zip (a function's or layer's code) unpacked into a
    directory, any other object (a state machine definition) as a file."""
    target = work_dir / "packaged" / bucket / key
    if target.exists():
        return target
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    staging = target.with_name(target.name + ".partial")
    staging.parent.mkdir(parents=True, exist_ok=True)
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.extractall(staging)
    else:
        staging.write_bytes(body)
    try:
        staging.rename(target)
    except OSError:  # another action unpacked the same object meanwhile
        if not target.exists():
            raise
    return target


def provisioner_factory(
    client: Callable[[str], Any], runtime: Any, account: str, region: str
) -> ProvisionerFactory:
    def make(root: Path, fetch: Callable[[str, str], Path]) -> Provisioner:
        return Provisioner(client, runtime, root, account, region, fetch_code=fetch)

    return make
