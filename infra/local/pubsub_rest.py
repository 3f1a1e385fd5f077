"""The Pub/Sub emulator's REST API (``/v1/...``), over the standard library only.

The supervisor and the simulators publish through this, so they need neither gRPC nor the
client library; tests and the acceptance scripts may use the client library instead, it
talks to the same emulator.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.local.errors import LocalError

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Received:
    """One pulled message: decoded data (JSON when it parses, else the raw text)."""

    ack_id: str
    message_id: str
    data: Any
    attributes: dict[str, str]
    publish_time: str


class PubSubRest:
    """REST calls against the emulator at ``host`` (``127.0.0.1:port``)."""

    def __init__(self, host: str) -> None:
        self.host = host

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             ok_conflict: bool = False) -> dict[str, Any]:
        """``method`` on ``/v1/<path>``; ``LocalError`` on failure (409 too, unless allowed)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://{self.host}/v1/{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            if ok_conflict and exc.code == 409:
                return {}
            detail = exc.read().decode(errors="replace")[:300].replace("\n", " ")
            raise LocalError(
                f"Pub/Sub emulator {method} {path} answered HTTP {exc.code}: {detail}"
            ) from exc
        except OSError as exc:
            raise LocalError(
                f"Pub/Sub emulator at {self.host} unreachable ({exc}); is it running? "
                "check `python -m infra.local status`"
            ) from exc
        return json.loads(raw) if raw else {}

    def create_topic(self, path: str) -> None:
        self.call("PUT", path, {}, ok_conflict=True)

    def create_subscription(self, path: str, body: Mapping[str, Any]) -> None:
        self.call("PUT", path, body, ok_conflict=True)

    def delete(self, path: str) -> None:
        try:
            self.call("DELETE", path)
        except LocalError as exc:
            if "HTTP 404" not in str(exc):
                raise

    def publish(self, topic: str, payloads: Sequence[bytes],
                attributes: Mapping[str, str] | None = None) -> list[str]:
        """Publish each payload (bytes) to ``topic``; return the message ids."""
        messages = [
            {"data": base64.b64encode(p).decode(), "attributes": dict(attributes or {})}
            for p in payloads
        ]
        out = self.call("POST", f"{topic}:publish", {"messages": messages})
        return [str(m) for m in out.get("messageIds", [])]

    def publish_raw(self, topic: str, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """Publish messages as the REST API takes them (``data`` already base64)."""
        out = self.call("POST", f"{topic}:publish", {"messages": [dict(m) for m in messages]})
        return [str(m) for m in out.get("messageIds", [])]

    def publish_json(self, topic: str, payloads: Sequence[Any],
                     attributes: Mapping[str, str] | None = None) -> list[str]:
        return self.publish(topic, [json.dumps(p).encode() for p in payloads], attributes)

    def pull(self, subscription: str, max_messages: int = 100) -> list[Received]:
        """Pull what is available now (``returnImmediately``), without acknowledging."""
        out = self.call("POST", f"{subscription}:pull",
                        {"maxMessages": max_messages, "returnImmediately": True})
        received: list[Received] = []
        for item in out.get("receivedMessages", []):
            msg = item.get("message", {})
            raw = base64.b64decode(msg.get("data", "") or "")
            try:
                data: Any = json.loads(raw)
            except ValueError:
                data = raw.decode(errors="replace")
            received.append(Received(
                ack_id=item["ackId"], message_id=str(msg.get("messageId")), data=data,
                attributes=dict(msg.get("attributes") or {}),
                publish_time=str(msg.get("publishTime", "")),
            ))
        return received

    def acknowledge(self, subscription: str, ack_ids: Sequence[str]) -> None:
        if ack_ids:
            self.call("POST", f"{subscription}:acknowledge", {"ackIds": list(ack_ids)})

    def drain(self, subscription: str) -> list[Received]:
        """Pull and acknowledge until the subscription returns nothing."""
        everything: list[Received] = []
        while True:
            batch = self.pull(subscription)
            if not batch:
                return everything
            self.acknowledge(subscription, [m.ack_id for m in batch])
            everything.extend(batch)
