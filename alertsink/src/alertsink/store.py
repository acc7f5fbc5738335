"""What the sink has received, kept in memory (bounded) and logged to stdout as JSON lines."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import deque
from datetime import UTC, datetime

from flask import Flask, current_app


class NotificationStore:
    """Thread-safe, oldest-first record of notifications; the oldest go once `limit` is reached."""

    def __init__(self, limit: int) -> None:
        self._items: deque[dict] = deque(maxlen=limit)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, receiver: str, kind: str, alertnames: list[str], status: str, payload) -> dict:
        with self._lock:
            entry = {
                "id": next(self._ids),
                "received_at": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
                "receiver": receiver,
                "kind": kind,
                "alertnames": alertnames,
                "status": status,
                "payload": payload,
            }
            self._items.append(entry)
            record = {"timestamp": entry["received_at"], "level": "INFO", "logger": "alertsink"}
            # One JSON object per line on stdout, as the service logs (and Promtail reads) them.
            sys.stdout.write(json.dumps({**record, "message": "Notification received", **entry}))
            sys.stdout.write("\n")
            sys.stdout.flush()
        return entry

    def query(
        self,
        receiver: str | None = None,
        kind: str | None = None,
        alertname: str | None = None,
        status: str | None = None,
    ) -> list[dict]:
        with self._lock:
            items = list(self._items)
        return [
            item
            for item in items
            if (receiver is None or item["receiver"] == receiver)
            and (kind is None or item["kind"] == kind)
            and (alertname is None or alertname in item["alertnames"])
            and (status is None or item["status"] == status)
        ]

    def clear(self) -> int:
        with self._lock:
            count = len(self._items)
            self._items.clear()
        return count


def get_store() -> NotificationStore:
    return current_app.extensions["alertsink.store"]


def init_app(app: Flask) -> None:
    app.extensions["alertsink.store"] = NotificationStore(int(app.config["MAX_NOTIFICATIONS"]))
