"""The run ledger: one DynamoDB item per business key (dataset version, deployment, rollback).

Replays and retries of an event reach the same key, so a workflow can tell a first run from a
repeat without trusting the event id: a replay from the bus archive ("Archiving and replaying
events in Amazon EventBridge", docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html)
is a new delivery of the event.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

TERMINAL_FAILED = "FAILED"


def to_item(value: Any) -> Any:
    """DynamoDB rejects floats; store numbers as Decimal (json round trip keeps it simple)."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Ledger:
    def __init__(self, table: Any) -> None:
        self._table = table

    def claim(self, key: str, run_id: str, attributes: dict[str, Any]) -> dict[str, Any] | None:
        """Claims `key` for `run_id`. Returns None on success, else the item that holds it.

        A key whose last run FAILED may be claimed again: a failed run is retried by replaying
        its event. The same run_id may re-claim (a retried Lambda invocation).
        """
        item = {
            "pk": key,
            "sk": "run",
            "run_id": run_id,
            "status": "RUNNING",
            "started_at": now_iso(),
            **to_item(attributes),
        }
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression=Attr("pk").not_exists()
                | Attr("status").eq(TERMINAL_FAILED)
                | Attr("run_id").eq(run_id),
            )
            return None
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return self._table.get_item(Key={"pk": key, "sk": "run"}, ConsistentRead=True)["Item"]

    def finish(self, key: str, run_id: str, status: str, details: dict[str, Any]) -> bool:
        """Records the outcome if `run_id` still holds the key; False if another run does."""
        try:
            self._table.update_item(
                Key={"pk": key, "sk": "run"},
                UpdateExpression="SET #s = :s, finished_at = :t, details = :d",
                ConditionExpression=Attr("run_id").eq(run_id),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": status, ":t": now_iso(), ":d": to_item(details)},
            )
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False

    def append(self, key: str, entry: dict[str, Any], tag: str | None = None) -> None:
        """Adds an audit entry under `key`, sorted by time. A `tag` (unique per entry) keeps
        two entries of the same second apart; without it the second would replace the first."""
        sort_key = f"at#{now_iso()}" + (f"#{tag}" if tag else "")
        self._table.put_item(Item={"pk": key, "sk": sort_key, **to_item(entry)})

    def entries(self, key: str) -> list[dict[str, Any]]:
        """Every audit entry under `key`, oldest first (all pages of the query)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :k AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":k": key, ":p": "at#"},
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
