"""CloudFormation resource creators for the delivery pipeline's stack (codepipeline.yaml):
the connection, CodeBuild projects, the pipeline itself and the Lambda permission an
EventBridge rule needs. Each calls the AWS APIs CloudFormation would and returns the Ref value
and the GetAtt attributes (CloudFormation template reference, "Return values" of
AWS::CodeConnections::Connection, AWS::CodeBuild::Project, AWS::CodePipeline::Pipeline,
AWS::Lambda::Permission).

CloudFormation spells properties in PascalCase; the APIs take camelCase. A pipeline's action
`Configuration` keeps its keys (they are the action's own, e.g. ProjectName) and its values
become strings, as the API stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops.twin.aws.arns import Arn
from mlops.twin.cloudformation.template import TemplateError
from mlops.twin.codepipeline.triggers import TriggerError, validate_triggers


class DeliveryResources:
    """A mixin of the Provisioner; creators are found by type name."""

    _client: Callable[[str], Any]
    _region: str
    _account: str
    _name: Callable[..., str]  # ServiceResources' generated names

    def _AWS_CodeConnections_Connection(self, stack, logical, props, _):
        created = self._client("codestar-connections").create_connection(
            ConnectionName=props["ConnectionName"], ProviderType=props.get("ProviderType", "GitHub")
        )
        # CodeConnections ARNs (arn:aws:codeconnections:...) name the same connection as the
        # codestar-connections ARN the twin's API returns.
        parsed = Arn.parse(created["ConnectionArn"])
        arn = f"arn:{parsed.partition}:codeconnections:{parsed.region}:{parsed.account}:"
        arn += parsed.resource
        return arn, {
            "ConnectionArn": arn,
            "ConnectionStatus": "PENDING",
            "OwnerAccountId": parsed.account,
        }

    _AWS_CodeStarConnections_Connection = _AWS_CodeConnections_Connection

    def _AWS_CodeBuild_Project(self, stack, logical, props, _):
        name = props.get("Name") or self._name(stack, logical, 150)
        request = camel(
            {
                k: props[k]
                for k in ("Source", "Artifacts", "Environment", "LogsConfig")
                if k in props
            }
        )
        for key in ("TimeoutInMinutes", "QueuedTimeoutInMinutes"):
            if key in props:
                request[key[0].lower() + key[1:]] = int(props[key])
        if "Description" in props:
            request["description"] = props["Description"]
        if "buildSpec" in request.get("source", {}):  # the API spells it `buildspec`
            request["source"]["buildspec"] = request["source"].pop("buildSpec")
        environment = request.get("environment", {})
        for variable in environment.get("environmentVariables", []):
            variable["value"] = str(variable["value"])
        project = self._client("codebuild").create_project(
            name=name, serviceRole=props["ServiceRole"], **request
        )["project"]
        return name, {"Arn": project["arn"]}

    def _AWS_CodePipeline_Pipeline(self, stack, logical, props, _):
        name = props.get("Name") or self._name(stack, logical, 100)
        self._client("codepipeline").create_pipeline(
            pipeline=self._pipeline_declaration(logical, props, name)
        )
        return name, {"Version": "1"}

    def _pipeline_declaration(self, logical: str, props: dict[str, Any], name: str) -> dict:
        declaration = camel({k: v for k, v in props.items() if k not in ("Name", "Tags")})
        declaration["name"] = name
        if "artifactStores" in declaration:  # a list in CloudFormation, a map in the API
            declaration["artifactStores"] = {
                s["region"]: s["artifactStore"] for s in declaration["artifactStores"]
            }
        for key in ("DisableInboundStageTransitions", "RestartExecutionOnUpdate"):
            declaration.pop(key[0].lower() + key[1:], None)
        for stage in declaration.get("stages", []):
            for action in stage.get("actions", []):
                if "runOrder" in action:
                    action["runOrder"] = int(action["runOrder"])
        try:
            validate_triggers(declaration)
        except TriggerError as error:
            raise TemplateError(f"{logical}: {error}") from None
        return declaration

    def _AWS_Lambda_Permission(self, stack, logical, props, _):
        request = {k: props[k] for k in ("SourceArn", "SourceAccount") if k in props}
        self._client("lambda").add_permission(
            FunctionName=props["FunctionName"],
            StatementId=logical,
            Action=props["Action"],
            Principal=props["Principal"],
            **request,
        )
        return logical, {}


def camel(value: Any) -> Any:
    """PascalCase keys to camelCase, recursively; `Configuration` maps keep their keys and get
    string values (the API's ActionConfigurationMap)."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "Configuration" and isinstance(item, dict):
            out["configuration"] = {k: _string(v) for k, v in item.items()}
        else:
            out[key[:1].lower() + key[1:]] = camel(item)
    return out


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
