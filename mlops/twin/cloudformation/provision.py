"""Creates the stack described by template.yaml in the twin, resource by resource, through the
same AWS APIs CloudFormation would call (boto3 against the local endpoint).

Every resource type the transformed template contains must have a creator (a method named
after the type: `_AWS_Lambda_Function` here, the other services' in resources.py,
delivery_resources.py and scheduler.py); an unknown type fails provisioning with its name
instead of being skipped, so the twin never runs a stack that differs silently from the
template.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.twin.cloudformation.delivery_resources import DeliveryResources
from mlops.twin.cloudformation.resources import ServiceResources
from mlops.twin.cloudformation.rules import check_rules
from mlops.twin.cloudformation.scheduler import SchedulerResources
from mlops.twin.cloudformation.template import (
    CodeFetcher,
    Context,
    TemplateError,
    creation_order,
    evaluate,
    load_template,
    local_path,
    resolve_parameters,
    sam_transform,
)
from mlops.twin.cloudformation.update import StackUpdates, changed_kept_resources
from mlops.twin.lambda_.function import FunctionSpec
from mlops.twin.lambda_.runtime import LambdaRuntime

# moto stores a deployment package; the twin runs the CodeUri directory instead.
_PLACEHOLDER_ZIP = io.BytesIO()
with zipfile.ZipFile(_PLACEHOLDER_ZIP, "w") as _zip:
    _zip.writestr("README.txt", "The twin runs this function from its CodeUri directory.\n")


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    types: dict[str, str]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    stack_id: str = ""  # AWS::StackId, as the template saw it
    description: str = ""  # the template's Description
    # What an in-place update compares with and keeps (update.py): each resource's resolved
    # properties and its GetAtt attributes.
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)


class Provisioner(ServiceResources, DeliveryResources, SchedulerResources, StackUpdates):
    def __init__(
        self,
        client: Callable[[str], Any],
        runtime: LambdaRuntime,
        root: Path,
        account: str,
        region: str,
        fetch_code: CodeFetcher | None = None,
    ) -> None:
        self._client = client
        self._runtime = runtime
        self._root = root
        self._account = account
        self._region = region
        self._fetch_code = fetch_code  # code `sam package` uploaded (s3://...), made local
        self._layers: dict[str, Path] = {}  # layer version ARN -> content dir (like /opt/python)

    def _code_path(self, location: dict[str, Any]) -> Path:
        return local_path(self._root, location, self._fetch_code)

    def deploy(
        self,
        stack_name: str,
        template_path: Path,
        parameter_overrides: dict[str, str],
        previous: Stack | None = None,
    ) -> Stack:
        """Create the stack, or with `previous` (the same stack as it stands) update it in
        place: update.py says what an update changes and what it keeps."""
        template = load_template(template_path)
        parameters = resolve_parameters(template, parameter_overrides)
        check_rules(template, parameters)  # CloudFormation refuses before creating anything
        cfn = sam_transform(template, parameters, self._region)
        stack_id = self._arn("cloudformation", f"stack/{stack_name}/twin")
        ctx = Context(
            parameters=parameters,
            pseudo={
                "AWS::Region": self._region,
                "AWS::AccountId": self._account,
                "AWS::StackName": stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": stack_id,
            },
        )
        for name, expr in cfn.get("Conditions", {}).items():
            ctx.conditions[name] = bool(evaluate(expr, ctx))
        stack = Stack(
            stack_name,
            {},
            {},
            {},
            parameters=parameters,
            stack_id=stack_id,
            description=str(template.get("Description", "")),
        )
        resources = cfn["Resources"]
        if previous is not None:  # refuse what the twin cannot update before changing anything
            guess = Context(parameters, ctx.pseudo, ctx.conditions, dict(previous.physical_ids))
            guess.attributes = dict(previous.attributes)
            refused = changed_kept_resources(previous, resources, lambda p: evaluate(p, guess))
            if refused:
                raise TemplateError(
                    "the twin keeps these resources as they are in an update and cannot "
                    f"change them: {'; '.join(refused)}"
                )
        for logical in creation_order(resources):
            resource = resources[logical]
            if "Condition" in resource and not ctx.conditions[resource["Condition"]]:
                continue
            creator = getattr(self, "_" + resource["Type"].replace("::", "_"), None)
            if creator is None:
                raise TemplateError(f"{logical}: the twin cannot create {resource['Type']}")
            props = evaluate(resource.get("Properties", {}), ctx)
            stack.properties[logical] = copy.deepcopy(props)
            if previous is not None and previous.types.get(logical) == resource["Type"]:
                ref, attributes = self.update_resource(
                    stack_name, logical, resource["Type"], props, stack, previous
                )
            else:
                ref, attributes = creator(stack_name, logical, props, stack)
            ctx.refs[logical] = ref
            ctx.attributes[logical] = attributes
            stack.attributes[logical] = attributes
            stack.physical_ids[logical] = ref
            stack.types[logical] = resource["Type"]
        stack.outputs = {
            k: str(evaluate(v["Value"], ctx)) for k, v in cfn.get("Outputs", {}).items()
        }
        return stack

    # ------------------------------------------------------------ compute

    def _AWS_Lambda_LayerVersion(self, stack, logical, props, _, version: int = 1):
        path = self._code_path(props["Content"])
        if not path.is_dir():
            raise TemplateError(f"{logical}: layer content {path} is not a directory")
        if (path / "python").is_dir():  # a built layer: Lambda puts /opt/python on sys.path
            path = path / "python"
        arn = self._arn("lambda", f"layer:{props.get('LayerName', logical)}:{version}")
        self._layers[arn] = path
        return arn, {"LayerVersionArn": arn}

    def _AWS_Lambda_Function(self, stack, logical, props, stack_obj: Stack):
        name = props.get("FunctionName") or self._name(stack, logical)
        self._code_dir(logical, props)  # refused before anything is created
        environment = props.get("Environment", {}).get("Variables", {})
        arn = self._client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": _PLACEHOLDER_ZIP.getvalue()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": {k: str(v) for k, v in environment.items()}},
            Description=props.get("Description", ""),
            **({"LoggingConfig": props["LoggingConfig"]} if "LoggingConfig" in props else {}),
            **(
                {"DeadLetterConfig": props["DeadLetterConfig"]}
                if "DeadLetterConfig" in props
                else {}
            ),  # fmt: skip
        )["FunctionArn"]
        self._register_function(logical, dict(props, FunctionName=name), arn, stack_obj)
        return name, {"Arn": arn}

    def _code_dir(self, logical: str, props: dict[str, Any]) -> Path:
        code_dir = self._code_path(props["Code"])
        if not (code_dir / (props["Handler"].rsplit(".", 1)[0] + ".py")).is_file():
            raise TemplateError(f"{logical}: handler {props['Handler']} not in {code_dir}")
        return code_dir

    def _register_function(self, logical: str, props: dict[str, Any], arn: str, stack: Stack):
        """The Lambda runtime runs the function from its code directory (a registration
        replaces the previous one: its idle workers retire)."""
        environment = props.get("Environment", {}).get("Variables", {})
        spec = FunctionSpec(
            name=props["FunctionName"],
            arn=arn,
            code_dir=self._code_dir(logical, props),
            handler=props["Handler"],
            environment={k: str(v) for k, v in environment.items()},
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            layer_dirs=tuple(self._layers[a] for a in props.get("Layers", [])),
            dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
        )
        self._runtime.register(spec)
        stack.functions[logical] = spec

    def _AWS_StepFunctions_StateMachine(self, stack, logical, props, _):
        name = props.get("StateMachineName") or self._name(stack, logical, 80)
        arn = self._client("stepfunctions").create_state_machine(
            name=name,
            type=props.get("StateMachineType", "STANDARD"),
            **self._state_machine_request(props),
        )["stateMachineArn"]
        return arn, {"Arn": arn, "Name": name}

    def _state_machine_request(self, props: dict[str, Any]) -> dict[str, Any]:
        """definition (substituted), roleArn and loggingConfiguration, as Create- and
        UpdateStateMachine take them."""
        definition = self._code_path(props["DefinitionS3Location"]).read_text()
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        json.loads(definition)  # a substitution that breaks the JSON fails here, by name
        request: dict[str, Any] = {"definition": definition, "roleArn": props["RoleArn"]}
        if "LoggingConfiguration" in props:
            request["loggingConfiguration"] = _sfn_logging(props["LoggingConfiguration"])
        return request


def _sfn_logging(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's LoggingConfiguration is the API's loggingConfiguration, camel-cased."""
    return {
        "level": config.get("Level", "OFF"),
        "includeExecutionData": config.get("IncludeExecutionData", False) in (True, "true"),
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
            for d in config.get("Destinations", [])
        ],
    }
