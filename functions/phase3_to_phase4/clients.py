"""What the orchestrator talks to: Firestore, a Pub/Sub publisher and a BigQuery row writer.

The plain functions take a ``Clients``; tests pass their own (e.g. a failing publisher). The
real clients are created on first use, so importing the function contacts nothing and a
cold start stays light.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from functions.phase3_to_phase4.config import Config

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient

PUBLISH_TIMEOUT_S = 60.0
BQ_TIMEOUT_S = 10.0


class Publisher(Protocol):
    """Publishes one message and returns its server-assigned message id (raises on failure)."""

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str: ...


class RowWriter(Protocol):
    """Streams rows into a BigQuery table; returns the per-row errors (empty when all went)."""

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> Sequence[Any]: ...


class PubSubPublisher:
    """``Publisher`` over ``google.cloud.pubsub_v1.PublisherClient`` (honours the emulator)."""

    def __init__(self) -> None:
        # google-cloud-pubsub ships no py.typed marker: its clients are untyped (Any).
        from google.cloud.pubsub_v1 import PublisherClient, types

        # One message per batch: a trigger should leave now, not after a batching window.
        self._client = PublisherClient(batch_settings=types.BatchSettings(max_messages=1))

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        future = self._client.publish(topic, data, **dict(attributes))
        return str(future.result(timeout=PUBLISH_TIMEOUT_S))


class BigQueryRows:
    """``RowWriter`` over ``google.cloud.bigquery.Client.insert_rows_json``, built lazily."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._client: Any = None
        self._lock = threading.Lock()

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> Sequence[Any]:
        with self._lock:
            if self._client is None:
                from google.cloud import bigquery

                self._client = bigquery.Client(project=self._project)
        return list(
            self._client.insert_rows_json(
                table, [dict(r) for r in rows], row_ids=list(row_ids), timeout=BQ_TIMEOUT_S
            )
        )


@dataclass(frozen=True)
class Clients:
    """What the plain functions talk to; tests pass their own (e.g. a failing publisher)."""

    db: FirestoreClient
    publisher: Publisher
    rows: RowWriter | None


_CLIENTS: dict[tuple[str | None, ...], Clients] = {}
_CLIENTS_LOCK = threading.Lock()


def get_clients(config: Config) -> Clients:
    """The process-wide clients for ``config``, created on first use (cold start stays light)."""
    key = (
        config.project,
        config.bq_table_id,
        os.environ.get("FIRESTORE_EMULATOR_HOST"),
        os.environ.get("PUBSUB_EMULATOR_HOST"),
    )
    with _CLIENTS_LOCK:
        clients = _CLIENTS.get(key)
        if clients is None:
            from google.cloud import firestore

            clients = Clients(
                db=firestore.Client(project=config.project),
                publisher=PubSubPublisher(),
                rows=BigQueryRows(config.project) if config.bq_table_id else None,
            )
            _CLIENTS[key] = clients
        return clients
