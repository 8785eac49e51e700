import json
from typing import Any


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic = topic_arn

    def publish(self, subject: str, message: dict[str, Any], attributes: dict[str, str]) -> str:
        response = self._sns.publish(
            TopicArn=self._topic,
            Subject=subject[:100],  # SNS subject limit
            Message=json.dumps(message, indent=2, default=str),
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )
        return response["MessageId"]
