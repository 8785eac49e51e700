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

RUNNING = "RUNNING"
TERMINAL_FAILED = "FAILED"
REJECTED = "REJECTED"
#: Statuses a later run may claim again: a failed run is retried, a rejected upload re-checked.
RECLAIMABLE = (TERMINAL_FAILED, REJECTED)
POINTER_SK = "pointer"
LOCK_SK, LOCK_HELD, LOCK_RELEASED = "lock", "HELD", "RELEASED"


def to_item(value: Any) -> Any:
    """DynamoDB rejects floats; store numbers as Decimal (json round trip keeps it simple)."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reclaimable(run_id: str, stale_run_id: str | None) -> Any:
    condition = Attr("status").is_in(list(RECLAIMABLE)) | Attr("run_id").eq(run_id)
    if stale_run_id is not None:
        condition = condition | (Attr("run_id").eq(stale_run_id) & Attr("status").eq(RUNNING))
    return condition


class Ledger:
    def __init__(self, table: Any) -> None:
        self._table = table

    def claim(
        self,
        key: str,
        run_id: str,
        attributes: dict[str, Any],
        stale_run_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Claims `key` for `run_id`. Returns None on success, else the item that holds it.

        A key whose last run FAILED (or was REJECTED) may be claimed again: a failed run is
        retried by replaying its event. The same run_id may re-claim (a retried invocation).
        `stale_run_id`: a run the caller found ended while its claim still says RUNNING (it
        crashed, timed out or was aborted); the claim is taken over from it, from no other.
        """
        reclaimable = _reclaimable(run_id, stale_run_id)
        return self._claim(key, run_id, attributes, Attr("pk").not_exists() | reclaimable)

    def claim_attempt(
        self,
        key: str,
        run_id: str,
        request_id: str,
        attributes: dict[str, Any],
        stale_run_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Claims a new attempt's key for a request. Returns None on success, else the item
        that holds it: another request's attempt, or this request's own (a replayed request),
        which may be claimed again only by the same run, after it FAILED or was REJECTED, or
        from `stale_run_id` (as `claim`)."""
        mine = Attr("request_id").eq(request_id) & _reclaimable(run_id, stale_run_id)
        attributes = attributes | {"request_id": request_id}
        return self._claim(key, run_id, attributes, Attr("pk").not_exists() | mine)

    def _claim(
        self, key: str, run_id: str, attributes: dict[str, Any], condition: Any
    ) -> dict[str, Any] | None:
        item = {
            "pk": key,
            "sk": "run",
            "run_id": run_id,
            "status": RUNNING,
            "started_at": now_iso(),
            **to_item(attributes),
        }
        try:
            self._table.put_item(Item=item, ConditionExpression=condition)
            return None
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return self._table.get_item(Key={"pk": key, "sk": "run"}, ConsistentRead=True)["Item"]

    def claimed(self, key: str) -> dict[str, Any] | None:
        """The claim item of `key` (a run's status, run_id, execution_arn), None if unclaimed."""
        return self._table.get_item(Key={"pk": key, "sk": "run"}, ConsistentRead=True).get("Item")

    def reject(self, key: str, run_id: str, reason: str) -> bool:
        """Marks the key `run_id` holds REJECTED with the reason (the input broke its contract);
        False if another run holds it. A rejected key may be claimed again."""
        return self._end(key, run_id, REJECTED, "reason", reason)

    def point(self, key: str, order: str, attributes: dict[str, Any]) -> bool:
        """Sets the pointer item `key` unless it already points at something later by `order`
        (an ISO 8601 time: later wins, whatever order the writers arrive in)."""
        try:
            self._table.put_item(
                Item={"pk": key, "sk": POINTER_SK, "order": order, **to_item(attributes)},
                ConditionExpression=Attr("pk").not_exists() | Attr("order").lte(order),
            )
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False

    def pointer(self, key: str) -> dict[str, Any] | None:
        response = self._table.get_item(Key={"pk": key, "sk": POINTER_SK}, ConsistentRead=True)
        return response.get("Item")

    def finish(
        self,
        key: str,
        run_id: str,
        status: str,
        details: dict[str, Any],
        only_running: bool = False,
    ) -> bool:
        """Records the outcome if `run_id` still holds the key (`only_running`: and has not
        recorded an ending yet, e.g. REJECTED); False if not."""
        return self._end(key, run_id, status, "details", to_item(details), only_running)

    def _end(
        self, key: str, run_id: str, status: str, name: str, value: Any, only_running: bool = False
    ) -> bool:
        condition = Attr("run_id").eq(run_id)
        if only_running:
            condition = condition & Attr("status").eq(RUNNING)
        try:
            self._table.update_item(
                Key={"pk": key, "sk": "run"},
                UpdateExpression="SET #s = :s, finished_at = :t, #n = :v",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#n": name},
                ExpressionAttributeValues={":s": status, ":t": now_iso(), ":v": value},
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
        return self.views(key, "at#")

    def _all_pages(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def recent(self, key: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` audit entries under `key`, newest first."""
        response = self._table.query(
            KeyConditionExpression="pk = :k AND begins_with(sk, :p)",
            ExpressionAttributeValues={":k": key, ":p": "at#"},
            ScanIndexForward=False,
            Limit=limit,
        )
        return response["Items"]

    # ---- views: one item per (key, sort key) that its writer overwrites (an A/B test's figures)

    def view(self, key: str, sort_key: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": key, "sk": sort_key}, ConsistentRead=True).get(
            "Item"
        )

    def put_view(self, key: str, sort_key: str, attributes: dict[str, Any]) -> None:
        item = {"pk": key, "sk": sort_key, "updated_at": now_iso(), **to_item(attributes)}
        self._table.put_item(Item=item)

    def views(self, key: str, prefix: str) -> list[dict[str, Any]]:
        """Every item under `key` whose sort key starts with `prefix` (all pages)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :k AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":k": key, ":p": prefix},
        }
        return self._all_pages(request)

    # ---- endpoint locks (design D3): one item per endpoint, released by update, never deleted

    def read_lock(self, key: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": key, "sk": LOCK_SK}, ConsistentRead=True).get("Item")

    def acquire_lock(
        self, key: str, holder: str, attributes: dict[str, Any], stale_holder: str | None = None
    ) -> dict[str, Any] | None:
        """Takes the lock for `holder` if it is free: absent, released, or (`stale_holder`)
        still held by an execution that has ended. Returns None on success, else the item
        that holds it (another execution got there first)."""
        free = Attr("pk").not_exists() | Attr("status").eq(LOCK_RELEASED)
        if stale_holder is not None:
            free = free | (Attr("holder").eq(stale_holder) & Attr("status").eq(LOCK_HELD))
        item = {"pk": key, "sk": LOCK_SK, "holder": holder, "status": LOCK_HELD,
                "acquired_at": now_iso(), **to_item(attributes)}  # fmt: skip
        try:
            self._table.put_item(Item=item, ConditionExpression=free)
            return None
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return self.read_lock(key)

    def release_lock(self, key: str, holder: str) -> bool:
        """Releases the lock if `holder` holds it; False if it does not (nothing changes)."""
        try:
            self._table.update_item(
                Key={"pk": key, "sk": LOCK_SK},
                UpdateExpression="SET #s = :released, released_at = :t",
                ConditionExpression=Attr("holder").eq(holder) & Attr("status").eq(LOCK_HELD),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":released": LOCK_RELEASED, ":t": now_iso()},
            )
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False

    # ---- uploads (domain.uploads): one item per upload, under its data prefix's partition

    def record_upload(self, pk: str, sk: str, item: dict[str, Any]) -> dict[str, Any] | None:
        """Records an upload once. None if this call recorded it, else the item recorded before
        (a replayed or twice-delivered event of the same object version)."""
        try:
            self._table.put_item(
                Item={"pk": pk, "sk": sk, "recorded_at": now_iso(), **to_item(item)},
                ConditionExpression=Attr("pk").not_exists(),
            )
            return None
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)["Item"]

    def recorded_upload(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")

    def note_replay(self, pk: str, sk: str, event: dict[str, Any]) -> None:
        """Counts a repeated delivery on the upload's item and keeps the last one's facts."""
        self._table.update_item(
            Key={"pk": pk, "sk": sk},
            UpdateExpression="SET replays = if_not_exists(replays, :zero) + :one, last_replay = :e",
            ExpressionAttributeValues={":zero": 0, ":one": 1, ":e": to_item(event)},
        )

    def uploads(self, pk: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every upload recorded under `pk` (all pages), optionally only those in `status`."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :k AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":k": pk, ":p": "upload#"},
            "ConsistentRead": True,
        }
        if status is not None:
            request["FilterExpression"] = "#s = :s"
            request["ExpressionAttributeNames"] = {"#s": "status"}
            request["ExpressionAttributeValues"][":s"] = status
        return self._all_pages(request)

    def settle_upload(
        self, pk: str, sk: str, status: str, attributes: dict[str, Any], from_status: str
    ) -> bool:
        """Moves an upload from `from_status` to `status` with `attributes`; False if it is no
        longer in `from_status` (another run settled it first)."""
        values = to_item(attributes)
        names = {"#s": "status", **{f"#a{n}": name for n, name in enumerate(values)}}
        sets = ", ".join(f"#a{n} = :a{n}" for n in range(len(values)))
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": sk},
                UpdateExpression=f"SET #s = :s, settled_at = :t{', ' + sets if sets else ''}",
                ConditionExpression=Attr("status").eq(from_status),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":s": status, ":t": now_iso()}
                | {f":a{n}": value for n, value in enumerate(values.values())},
            )
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
