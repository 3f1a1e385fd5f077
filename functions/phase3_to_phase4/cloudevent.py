"""The envelope of a completion message as the orchestrator receives it: a Pub/Sub
messagePublished CloudEvent's ``data``.

This module only unwraps that envelope (JSON, the Pub/Sub ``message``, base64) to the
message's JSON payload; validating and normalising the payload is
``functions._shared.messages`` (the canary reads the same messages from its own pull
subscription). A broken envelope raises ``MalformedMessage`` saying what is wrong; the
handler logs it at WARNING with its content and acknowledges it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from functions._shared.messages import MalformedMessage, decode_json


def decode_pubsub_data(data: Any) -> tuple[Any, dict[str, str]]:
    """The JSON payload and attributes of a messagePublished CloudEvent's ``data``."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedMessage("CloudEvent data is not JSON", data) from exc
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise MalformedMessage("CloudEvent data has no Pub/Sub 'message' object", data)
    message = data["message"]
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        attributes = {}
    encoded = message.get("data")
    if not isinstance(encoded, str) or not encoded:
        raise MalformedMessage("Pub/Sub message has no data", message)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage("Pub/Sub message data is not base64", encoded) from exc
    return decode_json(raw), {str(k): str(v) for k, v in attributes.items()}
