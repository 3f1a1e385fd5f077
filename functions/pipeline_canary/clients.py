"""The canary's Google clients, created on first use (each honours its emulator variable)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient

_CLIENTS: dict[tuple[str, str | None], FirestoreClient] = {}
_CLIENTS_LOCK = threading.Lock()


def get_db(project: str) -> FirestoreClient:
    """The process-wide Firestore client, created on first use (honours the emulator)."""
    key = (project, os.environ.get("FIRESTORE_EMULATOR_HOST"))
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            from google.cloud import firestore

            _CLIENTS[key] = firestore.Client(project=project)
        return _CLIENTS[key]


_SUBSCRIBERS: dict[str | None, Any] = {}


def get_subscriber() -> Any:
    """The process-wide Pub/Sub subscriber client, created on first use (honours the emulator)."""
    key = os.environ.get("PUBSUB_EMULATOR_HOST")
    with _CLIENTS_LOCK:
        if key not in _SUBSCRIBERS:
            # google-cloud-pubsub ships no py.typed marker: its clients are untyped (Any).
            from google.cloud.pubsub_v1 import SubscriberClient

            _SUBSCRIBERS[key] = SubscriberClient()
        return _SUBSCRIBERS[key]
