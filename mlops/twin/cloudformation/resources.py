"""CloudFormation resource creators for the services the stack uses besides Lambda and Step
Functions: S3, DynamoDB, SQS, EventBridge, IAM, SNS, KMS, CloudWatch (alarms and logs) and
SageMaker. Each calls the AWS APIs CloudFormation would, and returns the resource's Ref value
and its GetAtt attributes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from mlops.twin.aws.arns import arn


class ServiceResources:
    """The Provisioner's base: it sets these attributes; creators are found by type name."""

    _client: Callable[[str], Any]
    _region: str
    _account: str

    # ------------------------------------------------------------ naming

    def _name(self, stack: str, logical: str, limit: int = 64, lower: bool = False) -> str:
        """CloudFormation-style generated name: stack-logical-suffix, deterministic here."""
        suffix = hashlib.sha256(f"{stack}/{logical}".encode()).hexdigest()[:8]
        name = f"{stack[:20]}-{logical[: limit - len(stack[:20]) - 10]}-{suffix}"
        return name.lower() if lower else name

    def _arn(self, service: str, resource: str) -> str:
        return arn(service, self._region, self._account, resource)

    # ------------------------------------------------------------ storage

    def _AWS_S3_Bucket(self, stack, logical, props, _):
        s3 = self._client("s3")
        name = props.get("BucketName") or self._name(stack, logical, 63, lower=True)
        s3.create_bucket(Bucket=name) if self._region == "us-east-1" else s3.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": self._region}
        )
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        if "BucketEncryption" in props:
            # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... field.
            rules = [
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules}
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "LoggingConfiguration" in props:  # server access logging to another bucket
            logging = props["LoggingConfiguration"]
            enabled = {"TargetBucket": logging["DestinationBucketName"]}
            enabled["TargetPrefix"] = logging.get("LogFilePrefix", "")
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": enabled})
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
                },
            )
        notification = props.get("NotificationConfiguration", {})
        if "EventBridgeConfiguration" in notification:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        return name, {"Arn": arn("s3", "", "", name), "DomainName": f"{name}.s3.amazonaws.com"}

    def _AWS_S3_BucketPolicy(self, stack, logical, props, _):
        self._client("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
        )
        return f"{props['Bucket']}-policy", {}

    def _AWS_DynamoDB_Table(self, stack, logical, props, _):
        name = props.get("TableName") or self._name(stack, logical)
        request = {
            k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props
        }
        if "SSESpecification" in props:  # CloudFormation's SSEEnabled is the API's Enabled
            sse = props["SSESpecification"]
            request["SSESpecification"] = {"Enabled": sse.get("SSEEnabled", False)} | (
                {"SSEType": sse["SSEType"]} if "SSEType" in sse else {}
            )
        self._client("dynamodb").create_table(TableName=name, **request)
        return name, {"Arn": self._arn("dynamodb", f"table/{name}")}

    def _AWS_SQS_Queue(self, stack, logical, props, _):
        name = props.get("QueueName") or self._name(stack, logical, 80)
        attributes = {
            k: str(props[k])
            for k in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")
            if k in props
        }
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url, {"Arn": self._arn("sqs", name), "QueueName": name, "QueueUrl": url}

    def _AWS_SQS_QueuePolicy(self, stack, logical, props, _):
        for url in props["Queues"]:
            self._client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        return f"{logical}-policy", {}

    # ------------------------------------------------------------ events

    def _AWS_Events_EventBus(self, stack, logical, props, _):
        arn = self._client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        return props["Name"], {"Arn": arn, "Name": props["Name"]}

    def _AWS_Events_Archive(self, stack, logical, props, _):
        name = props.get("ArchiveName") or self._name(stack, logical, 48)
        request = {k: props[k] for k in ("Description",) if k in props}
        if "RetentionDays" in props:  # a Number parameter resolves to a string, as in CFN
            request["RetentionDays"] = int(props["RetentionDays"])
        if "EventPattern" in props:
            request["EventPattern"] = json.dumps(props["EventPattern"])
        arn = self._client("events").create_archive(
            ArchiveName=name, EventSourceArn=props["SourceArn"], **request
        )["ArchiveArn"]
        return name, {"Arn": arn, "ArchiveName": name}

    def _AWS_Events_Rule(self, stack, logical, props, _):
        events = self._client("events")
        name = props.get("Name") or self._name(stack, logical)
        bus = props.get("EventBusName", "default")
        arn = events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
            Description=props.get("Description", ""),
        )["RuleArn"]
        targets = props.get("Targets", [])
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        ref = name if bus == "default" else f"{bus}|{name}"
        return ref, {"Arn": arn}

    # ------------------------------------------------------------ IAM, SNS, CloudWatch, SageMaker

    def _AWS_IAM_Role(self, stack, logical, props, _):
        iam = self._client("iam")
        name = props.get("RoleName") or self._name(stack, logical)
        arn = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )["Role"]["Arn"]
        for policy in props.get("Policies", []):
            # IAM reads a document without Version as 2008-10-17 (same meaning when it uses no
            # policy variables, as SAM's policy templates don't); moto's IAM insists on one.
            policy["PolicyDocument"].setdefault("Version", "2012-10-17")
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        # AWS managed policies (X-Ray, Lambda basic execution) are recorded as tags: moto's
        # IAM does not hold every AWS managed policy, and the twin does not enforce IAM.
        managed = props.get("ManagedPolicyArns", [])
        if managed:
            iam.tag_role(
                RoleName=name,
                Tags=[{"Key": f"managed-policy-{i}", "Value": a} for i, a in enumerate(managed)],
            )
        return name, {"Arn": arn, "RoleId": name}

    def _AWS_SNS_Topic(self, stack, logical, props, _):
        name = props.get("TopicName") or self._name(stack, logical)
        attributes = (
            {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
        )
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return arn, {"TopicArn": arn, "TopicName": name}

    def _AWS_SNS_TopicPolicy(self, stack, logical, props, _):
        for topic in props["Topics"]:
            self._client("sns").set_topic_attributes(
                TopicArn=topic,
                AttributeName="Policy",
                AttributeValue=json.dumps(props["PolicyDocument"]),
            )
        return f"{logical}-policy", {}

    def _AWS_KMS_Key(self, stack, logical, props, _):
        request = {"Policy": json.dumps(props["KeyPolicy"])} if "KeyPolicy" in props else {}
        if "Description" in props:
            request["Description"] = props["Description"]
        kms = self._client("kms")
        key = kms.create_key(**request)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}

    def _AWS_KMS_Alias(self, stack, logical, props, _):
        self._client("kms").create_alias(
            AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"]
        )
        return props["AliasName"], {}

    def _AWS_Logs_LogGroup(self, stack, logical, props, _):
        name = props.get("LogGroupName") or self._name(stack, logical, 512)
        logs = self._client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        return name, {"Arn": self._arn("logs", f"log-group:{name}:*")}

    def _AWS_IAM_ManagedPolicy(self, stack, logical, props, _):
        name = props.get("ManagedPolicyName") or self._name(stack, logical, 128)
        document = dict(props["PolicyDocument"])
        document.setdefault("Version", "2012-10-17")
        arn = self._client("iam").create_policy(
            PolicyName=name,
            PolicyDocument=json.dumps(document),
            Description=props.get("Description", ""),
        )["Policy"]["Arn"]
        return arn, {"PolicyArn": arn}

    def _AWS_SNS_Subscription(self, stack, logical, props, _):
        arn = self._client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )["SubscriptionArn"]
        return arn, {}

    def _AWS_CloudWatch_Alarm(self, stack, logical, props, _):
        name = props.get("AlarmName") or self._name(stack, logical, 255)
        request = {
            k: props[k]
            for k in (
                "AlarmDescription",
                "Namespace",
                "MetricName",
                "Dimensions",
                "Statistic",
                "ExtendedStatistic",
                "Period",
                "EvaluationPeriods",
                "DatapointsToAlarm",
                "Threshold",
                "ComparisonOperator",
                "TreatMissingData",
                "AlarmActions",
                "OKActions",
                "Unit",
            )
            if k in props
        }
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in request:
                request[number] = int(request[number])
        if "Threshold" in request:
            request["Threshold"] = float(request["Threshold"])
        self._client("cloudwatch").put_metric_alarm(AlarmName=name, **request)
        return name, {"Arn": self._arn("cloudwatch", f"alarm:{name}")}

    def _AWS_SageMaker_ModelPackageGroup(self, stack, logical, props, _):
        name = props["ModelPackageGroupName"]
        arn = self._client("sagemaker").create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", ""),
        )["ModelPackageGroupArn"]
        return arn, {"ModelPackageGroupArn": arn, "ModelPackageGroupName": name}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> PutBucketLifecycleConfiguration's."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"]}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    return out
