"""CloudFormation for the twin: template.yaml read as CloudFormation reads it (SAM transform,
parameters, conditions, intrinsic functions) and provisioned resource by resource."""
