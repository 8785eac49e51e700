import json
from typing import Any

#: The source of every event the control plane itself puts on its bus (design decision D1).
CONTROL_PLANE_SOURCE = "mlops.control-plane"


class EventBus:
    """The stack's own event bus (EventBridge PutEvents)."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events = events_client
        self._bus = bus_name

    def put(self, detail_type: str, detail: dict[str, Any], resources: list[str]) -> str:
        """Puts one event; returns its id. A failed entry raises (PutEvents reports failures
        per entry with FailedEntryCount, not as an error)."""
        response = self._events.put_events(
            Entries=[
                {
                    "Source": CONTROL_PLANE_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": resources,
                    "EventBusName": self._bus,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise RuntimeError(
                f"PutEvents failed: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
        return entry["EventId"]
