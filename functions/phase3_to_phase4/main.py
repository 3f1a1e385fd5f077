"""Phase 3 → Phase 4 orchestrator: gate Phase 4 on every enabled Phase 3 processor.

Entry point ``handle_phase3_completion`` (CloudEvent, Pub/Sub messagePublished on the
source phase's completion topic). Each delivery carries one processor's completion message;
when the enabled set is complete for a game date, exactly one trigger is published to the
Phase 4 trigger topic. Everything the code needs comes from environment variables that the
stack generates from the manifest (see ``Config.from_env``): no processor or topic name is
written here.

Firestore data model (shared with ``pipeline_canary``, its ``reconcile`` command and the
local pipeline; ``{collection}`` is ``COMPLETION_COLLECTION``):

``{collection}/{game_date}/completions/{processor}`` — one completion record per processor,
    created with create-if-absent, so a duplicate delivery is a no-op and concurrent
    deliveries of different processors never contend on one document. Fields: ``processor``
    (snake_case), ``processor_name`` (as sent), ``game_date``, ``phase``, ``status``,
    ``expected`` (bool, against ``EXPECTED_PROCESSORS`` at write time), ``execution_id``,
    ``correlation_id``, ``output_table``, ``output_dataset``, ``record_count``,
    ``timestamp`` (as sent), ``completed_at`` (the sent timestamp when it parses, else
    ``recorded_at``), ``recorded_at``, ``event_id``, ``skip_downstream_trigger``,
    ``_expires_at``. A record whose status is not ``success`` is replaced by a later success
    of the same processor (optimistic precondition on its update time), never the reverse.
    Only records of expected processors with status ``success`` count.

``{collection}/{game_date}`` — the summary, derived from the records and never incremented:
    one map per processor seen (``status``, ``completed_at``, ``recorded_at``,
    ``execution_id``, ``record_count``, ``output_table``, ``expected``), ``_completed``,
    ``_completed_count``, ``_expected``, ``_expected_count``, ``_missing``, ``_unexpected``,
    ``_first_completion_at``, ``_last_completion_at`` (over all records), and the trigger
    state ``_triggered``, ``_triggered_at``, ``_trigger_message_id``, ``_triggered_by``
    (written only by the delivery that published) and ``_trigger_skipped`` (the enabled set
    was complete but the completing message asked to skip downstream triggers). Every
    writer rewrites the record-derived fields from a fresh listing, then lists again and
    rewrites while the listing grew: listings only grow, so the last write always holds
    the full set and no count can stay stuck below the truth.

``{collection}/{game_date}/claims/trigger`` — the trigger claim, created atomically by the
    first delivery that sees the enabled set complete: ``claimed_by`` (CloudEvent id),
    ``claimed_at``, ``lease_until``, ``published``, ``message_id``, ``published_at``,
    ``attempts`` (``previous_claimant`` after a takeover). The claimant publishes, then
    marks the claim published and sets the summary's trigger fields in one batched commit
    (nobody sees one without the other). If the publish fails
    the handler raises so Pub/Sub redelivers; a redelivery of the same event (arriving at
    least ``REDELIVERY_GRACE`` after the claim, Pub/Sub's minimum backoff), or any delivery
    once the lease has expired, takes the claim over in a transaction and publishes. Any
    other delivery that finds the claim unpublished polls it for ``HOLD_WAIT_S`` and, if it
    is still unpublished, raises ``TriggerPending`` so that Pub/Sub redelivers it: the
    trigger is never lost, even when the claimant died. A published claim is never
    published again; a crash between the publish and the mark can publish twice, so the
    trigger carries the idempotency key ``{transition}:{game_date}`` for Phase 4. The
    function's trigger must have retries enabled for redelivery to happen at all.

Every document created carries ``_expires_at`` (now + ``COMPLETION_TTL_DAYS``); the stack
puts the TTL policy on that field for the collection and its subcollections.

Messages with ``skip_downstream_trigger: true`` (backfills) are recorded and count towards
completion, but never claim the trigger themselves; a later ordinary message for the same
date can. Malformed messages are logged at WARNING with their content and acknowledged.

Each new completion and each trigger is also streamed to BigQuery ``BQ_COMPLETIONS_TABLE``
with deterministic insert ids, so monitors query BigQuery; an empty variable skips it, and a
failure is logged at ERROR and never blocks the trigger.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import functions_framework

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent
    from google.cloud.firestore import Client as FirestoreClient
    from google.cloud.firestore import DocumentReference

COMPLETIONS = "completions"
CLAIMS = "claims"
TRIGGER_CLAIM = "trigger"
SUCCESS = "success"
# Longer than a live attempt can take (publish timeout + marking); shorter means a claim
# whose holder died is taken over sooner by the next delivery.
CLAIM_LEASE = dt.timedelta(minutes=2)
# Pub/Sub redelivers a failed event after at least its minimum backoff (10 s by default).
REDELIVERY_GRACE = dt.timedelta(seconds=10)
HOLD_WAIT_S = 15.0
HOLD_POLL_S = 0.1
PUBLISH_TIMEOUT_S = 60.0
BQ_TIMEOUT_S = 10.0
MAX_SUMMARY_ROUNDS = 10
MAX_UPGRADE_ATTEMPTS = 5
LOGGED_CONTENT_CHARS = 2000

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CLASS_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_TOPIC_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")
_BQ_TABLE_RE = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]\.)?\w+\.[\w$-]+$")
_LOG_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_LOG_LOCK = threading.Lock()


# --------------------------------------------------------------------------- logging


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one structured JSON log line (Cloud Logging reads ``severity``) to stdout."""
    threshold = _LOG_LEVELS.get(os.environ.get("LOG_LEVEL", "INFO").upper(), 20)
    if _LOG_LEVELS.get(severity, 20) < threshold:
        return
    entry = {"severity": severity, "message": message, **fields}
    line = json.dumps(entry, default=str)
    with _LOG_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------- config


class ConfigError(RuntimeError):
    """A required environment variable is missing or invalid; the message names it."""


def _require(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(
            f"environment variable {name} is not set: expected {what}; the stack sets it "
            "from the manifest (set it yourself when running locally)"
        )
    return value.strip()


def _json_names(environ: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> list[str]:
    raw = _require(environ, name, "a JSON array of names")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"environment variable {name} is not valid JSON ({exc}): {raw!r}"
        ) from exc
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and pattern.match(v) for v in value)
    ):
        raise ConfigError(
            f"environment variable {name} must be a non-empty JSON array of names matching "
            f"{pattern.pattern}, got {raw!r}"
        )
    if len(set(value)) != len(value):
        raise ConfigError(f"environment variable {name} lists a name twice: {raw!r}")
    return value


@dataclass(frozen=True)
class Config:
    """The orchestrator's configuration, read from the environment on first use."""

    project: str
    source_phase: str
    known_phases: tuple[str, ...]
    expected_processors: tuple[str, ...]
    trigger_topic: str
    collection: str
    ttl_days: int
    bq_table: str
    transition: str

    @property
    def trigger_topic_path(self) -> str:
        return f"projects/{self.project}/topics/{self.trigger_topic}"

    @property
    def bq_table_id(self) -> str:
        """``project.dataset.table``, or ``""`` when the BigQuery dual write is off."""
        if not self.bq_table or self.bq_table.count(".") == 2:
            return self.bq_table
        return f"{self.project}.{self.bq_table}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Read and validate the variables; raise ``ConfigError`` naming the first bad one."""
        project = _require(environ, "GCP_PROJECT", "the GCP project id")
        known = _json_names(environ, "KNOWN_PHASES", re.compile(r"^[a-z][a-z0-9_]*$"))
        source = _require(environ, "SOURCE_PHASE", "the phase id this orchestrator gates on")
        if source not in known:
            raise ConfigError(f"SOURCE_PHASE {source!r} is not one of KNOWN_PHASES {known}")
        expected = _json_names(environ, "EXPECTED_PROCESSORS", _SNAKE_RE)
        topic = _require(environ, "TRIGGER_TOPIC", "the trigger topic id (not its full path)")
        if not _TOPIC_RE.match(topic):
            raise ConfigError(
                f"TRIGGER_TOPIC {topic!r} is not a topic id; pass the id, the code builds "
                "projects/{GCP_PROJECT}/topics/{id}"
            )
        collection = _require(environ, "COMPLETION_COLLECTION", "a Firestore collection id")
        if "/" in collection:
            raise ConfigError(f"COMPLETION_COLLECTION {collection!r} must not contain '/'")
        ttl_raw = _require(environ, "COMPLETION_TTL_DAYS", "a positive number of days")
        if not ttl_raw.isdigit() or int(ttl_raw) < 1:
            raise ConfigError(f"COMPLETION_TTL_DAYS must be a positive integer, got {ttl_raw!r}")
        if "BQ_COMPLETIONS_TABLE" not in environ:
            raise ConfigError(
                "environment variable BQ_COMPLETIONS_TABLE is not set: expected dataset.table "
                "(or empty to skip the BigQuery dual write, as with the emulators)"
            )
        bq_table = environ["BQ_COMPLETIONS_TABLE"].strip()
        if bq_table and not _BQ_TABLE_RE.match(bq_table):
            raise ConfigError(
                f"BQ_COMPLETIONS_TABLE {bq_table!r} must be dataset.table or project.dataset.table"
            )
        transition = _require(environ, "TRANSITION", "the transition name, e.g. a_to_b")
        return cls(
            project=project,
            source_phase=source,
            known_phases=tuple(known),
            expected_processors=tuple(sorted(expected)),
            trigger_topic=topic,
            collection=collection,
            ttl_days=int(ttl_raw),
            bq_table=bq_table,
            transition=transition,
        )


# --------------------------------------------------------------------------- clients


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
        from google.cloud import pubsub_v1

        # One message per batch: a trigger should leave now, not after a batching window.
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=1)
        )

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


# --------------------------------------------------------------------------- messages


class MalformedMessage(ValueError):
    """The delivery cannot be a completion message; ``reason`` says why."""

    def __init__(self, reason: str, content: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.content = content


@dataclass(frozen=True)
class Completion:
    """One processor's completion message, validated and normalised."""

    processor: str
    processor_name: str
    game_date: str
    phase: str | None
    status: str
    execution_id: str | None
    correlation_id: str | None
    output_table: str | None
    output_dataset: str | None
    record_count: int | None
    timestamp: str | None
    skip_downstream_trigger: bool

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS


def normalise_processor(name: str) -> str:
    """``PlayerGameSummaryProcessor`` → ``player_game_summary``; snake_case passes through."""
    if _SNAKE_RE.match(name):
        return name
    if not _CLASS_RE.match(name):
        raise ValueError(f"processor_name {name!r} is neither snake_case nor a class name")
    base = name.removesuffix("Processor") or name
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base).lower()
    if not _SNAKE_RE.match(snake):
        raise ValueError(f"processor_name {name!r} does not normalise to snake_case")
    return snake


def _optional(payload: Mapping[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedMessage(
            f"field {key!r} must be {kind.__name__}, got {type(value).__name__}", payload
        )
    return value


def parse_completion(payload: Any, known_phases: Sequence[str]) -> Completion:
    """Validate a decoded completion message; raise ``MalformedMessage`` saying what is wrong."""
    if not isinstance(payload, dict):
        raise MalformedMessage(
            f"message is a JSON {type(payload).__name__}, not an object", payload
        )
    raw_name = payload.get("processor_name")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise MalformedMessage("processor_name is missing or not a non-empty string", payload)
    try:
        processor = normalise_processor(raw_name.strip())
    except ValueError as exc:
        raise MalformedMessage(str(exc), payload) from exc
    game_date = payload.get("game_date")
    if not isinstance(game_date, str) or not _DATE_RE.match(game_date):
        raise MalformedMessage("game_date is missing or not YYYY-MM-DD", payload)
    try:
        dt.date.fromisoformat(game_date)
    except ValueError as exc:
        raise MalformedMessage(f"game_date {game_date!r} is not a calendar date", payload) from exc
    phase = _optional(payload, "phase", str)
    if phase is not None and phase not in known_phases:
        raise MalformedMessage(f"phase {phase!r} is not one of {list(known_phases)}", payload)
    status = _optional(payload, "status", str)
    record_count = _optional(payload, "record_count", int)
    if record_count is not None and record_count < 0:
        raise MalformedMessage(f"record_count {record_count} is negative", payload)
    skip = payload.get("skip_downstream_trigger", False)
    if skip is None:
        skip = False
    if not isinstance(skip, bool):
        raise MalformedMessage("skip_downstream_trigger must be a boolean", payload)
    return Completion(
        processor=processor,
        processor_name=raw_name.strip(),
        game_date=game_date,
        phase=phase,
        status=(status or SUCCESS).strip().lower() or SUCCESS,
        execution_id=_optional(payload, "execution_id", str),
        correlation_id=_optional(payload, "correlation_id", str),
        output_table=_optional(payload, "output_table", str),
        output_dataset=_optional(payload, "output_dataset", str),
        record_count=record_count,
        timestamp=_optional(payload, "timestamp", str),
        skip_downstream_trigger=skip,
    )


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
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage("Pub/Sub message data is not UTF-8 JSON", raw) from exc
    return payload, {str(k): str(v) for k, v in attributes.items()}


def _content_for_log(content: Any) -> str:
    if isinstance(content, bytes):
        text = content.decode("utf-8", errors="replace")
    elif isinstance(content, str):
        text = content
    else:
        text = json.dumps(content, default=str)
    return text[:LOGGED_CONTENT_CHARS]


# --------------------------------------------------------------------------- tally


@dataclass(frozen=True)
class Tally:
    """The completion state of one game date, derived only from its completion records."""

    completed: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    expected: tuple[str, ...]
    processors: dict[str, dict[str, Any]]
    first_completion_at: dt.datetime | None
    last_completion_at: dt.datetime | None

    @property
    def complete(self) -> bool:
        return not self.missing


def tally(records: Mapping[str, Mapping[str, Any]], expected: Sequence[str]) -> Tally:
    """Count records of expected processors whose status is success; list the rest."""
    expected_set = set(expected)
    completed = sorted(
        name
        for name, rec in records.items()
        if name in expected_set and rec.get("status") == SUCCESS
    )
    recorded = [rec.get("recorded_at") for rec in records.values() if rec.get("recorded_at")]
    processors = {
        name: {
            "status": rec.get("status"),
            "completed_at": rec.get("completed_at"),
            "recorded_at": rec.get("recorded_at"),
            "execution_id": rec.get("execution_id"),
            "record_count": rec.get("record_count"),
            "output_table": rec.get("output_table"),
            "expected": name in expected_set,
        }
        for name, rec in sorted(records.items())
    }
    return Tally(
        completed=tuple(completed),
        missing=tuple(sorted(expected_set - set(completed))),
        unexpected=tuple(sorted(set(records) - expected_set)),
        expected=tuple(sorted(expected_set)),
        processors=processors,
        first_completion_at=min(recorded) if recorded else None,
        last_completion_at=max(recorded) if recorded else None,
    )


def summary_fields(t: Tally) -> dict[str, Any]:
    """The summary fields that are a function of the records (everything but trigger state)."""
    return {
        **t.processors,
        "_completed": list(t.completed),
        "_completed_count": len(t.completed),
        "_expected": list(t.expected),
        "_expected_count": len(t.expected),
        "_missing": list(t.missing),
        "_unexpected": list(t.unexpected),
        "_first_completion_at": t.first_completion_at,
        "_last_completion_at": t.last_completion_at,
    }


# --------------------------------------------------------------------------- firestore


def summary_ref(db: FirestoreClient, config: Config, game_date: str) -> DocumentReference:
    return db.collection(config.collection).document(game_date)


def _expires(config: Config, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=config.ttl_days)


def _completed_at(completion: Completion, now: dt.datetime) -> dt.datetime:
    if completion.timestamp:
        try:
            parsed = dt.datetime.fromisoformat(completion.timestamp)
        except ValueError:
            return now
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return now


def completion_record(
    config: Config, completion: Completion, event_id: str, now: dt.datetime
) -> dict[str, Any]:
    """The Firestore completion record for ``completion`` (see the module docstring)."""
    return {
        "processor": completion.processor,
        "processor_name": completion.processor_name,
        "game_date": completion.game_date,
        "phase": completion.phase or config.source_phase,
        "status": completion.status,
        "expected": completion.processor in config.expected_processors,
        "execution_id": completion.execution_id,
        "correlation_id": completion.correlation_id,
        "output_table": completion.output_table,
        "output_dataset": completion.output_dataset,
        "record_count": completion.record_count,
        "timestamp": completion.timestamp,
        "completed_at": _completed_at(completion, now),
        "recorded_at": now,
        "event_id": event_id,
        "skip_downstream_trigger": completion.skip_downstream_trigger,
        "_expires_at": _expires(config, now),
    }


def record_completion(
    db: FirestoreClient, config: Config, completion: Completion, event_id: str, now: dt.datetime
) -> str:
    """Create the processor's record; return ``created``, ``duplicate`` or ``upgraded``."""
    from google.api_core import exceptions as gexc

    ref = summary_ref(db, config, completion.game_date).collection(COMPLETIONS)
    ref = ref.document(completion.processor)
    record = completion_record(config, completion, event_id, now)
    try:
        ref.create(record)
        return "created"
    except gexc.AlreadyExists:
        pass
    # A success replaces an earlier non-success of the same processor (a retried run);
    # the precondition on update_time makes a concurrent change win instead of being lost.
    for _ in range(MAX_UPGRADE_ATTEMPTS):
        snap = ref.get()
        existing = snap.to_dict() or {}
        if existing.get("status") == SUCCESS or not completion.succeeded:
            return "duplicate"
        try:
            ref.update(record, option=db.write_option(last_update_time=snap.update_time))
            return "upgraded"
        except gexc.FailedPrecondition:
            continue
    return "duplicate"


def list_records(db: FirestoreClient, config: Config, game_date: str) -> dict[str, dict[str, Any]]:
    """All completion records of ``game_date``, by processor."""
    coll = summary_ref(db, config, game_date).collection(COMPLETIONS)
    return {snap.id: snap.to_dict() or {} for snap in coll.stream()}


def _matches(stored: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    if stored is None:
        return False
    return all(stored.get(key) == value for key, value in desired.items())


def converge_summary(
    db: FirestoreClient, config: Config, game_date: str, now: dt.datetime
) -> tuple[Tally, dict[str, Any]]:
    """Rewrite the summary from the records until a re-listing adds nothing new.

    Returns the final tally and the summary as this delivery last saw or wrote it.
    """
    from google.api_core import exceptions as gexc

    ref = summary_ref(db, config, game_date)
    snap = ref.get()
    stored: dict[str, Any] | None = snap.to_dict() if snap.exists else None
    if stored is None:
        # The first write to a summary is always this create, so the trigger fields start
        # False and record-derived rewrites (merges) never touch them.
        base = {
            "_game_date": game_date,
            "_transition": config.transition,
            "_triggered": False,
            "_triggered_at": None,
            "_trigger_message_id": None,
            "_created_at": now,
            "_expires_at": _expires(config, now),
        }
        try:
            ref.create(base)
            stored = base
        except gexc.AlreadyExists:
            stored = ref.get().to_dict() or {}
    records = list_records(db, config, game_date)
    for _ in range(MAX_SUMMARY_ROUNDS):
        current = tally(records, config.expected_processors)
        desired = summary_fields(current)
        if _matches(stored, desired):
            return current, stored
        ref.set({**desired, "_expires_at": _expires(config, now)}, merge=True)
        stored = {**stored, **desired}
        again = list_records(db, config, game_date)
        if again == records:
            return current, stored
        records = again
    log(
        "ERROR",
        f"summary {config.collection}/{game_date} still changing after "
        f"{MAX_SUMMARY_ROUNDS} rounds; the canary and reconcile will report it",
        game_date=game_date,
        transition=config.transition,
    )
    return tally(records, config.expected_processors), stored


# --------------------------------------------------------------------------- trigger


@dataclass(frozen=True)
class TriggerResult:
    """``published`` or ``already_published`` (a no-op)."""

    state: str
    message_id: str | None = None
    claimed_by: str | None = None


class TriggerPending(RuntimeError):
    """The trigger is claimed by a delivery that has not published within the wait.

    Raised so Pub/Sub redelivers: the redelivery finds the trigger published, or the
    claimant's lease expired and takes it over, so a claimed trigger is never lost even
    when its claimant died and no redelivery of the claimant's own event comes.
    """


def trigger_payload(
    config: Config, t: Tally, completion: Completion, event_id: str, now: dt.datetime
) -> tuple[bytes, dict[str, str]]:
    """The trigger message body and attributes (``idempotency_key`` is per transition+date)."""
    body = {
        "game_date": completion.game_date,
        "transition": config.transition,
        "source_phase": config.source_phase,
        "completed_processors": list(t.completed),
        "expected_processors": list(t.expected),
        "correlation_id": completion.correlation_id,
        "trigger_event_id": event_id,
        "triggered_at": now.isoformat(),
    }
    attributes = {
        "game_date": completion.game_date,
        "transition": config.transition,
        "source_phase": config.source_phase,
        "idempotency_key": f"{config.transition}:{completion.game_date}",
    }
    return json.dumps(body, sort_keys=True).encode(), attributes


def may_take_over(claim: Mapping[str, Any], event_id: str, now: dt.datetime) -> bool:
    """An unpublished claim may be taken by a redelivery of its own event, or by anyone once
    its lease expired. A redelivery arrives after Pub/Sub's minimum retry backoff, so a
    same-id delivery within ``REDELIVERY_GRACE`` of the claim is a concurrent duplicate of a
    live attempt and waits instead."""
    if claim.get("published"):
        return False
    lease = claim.get("lease_until")
    if lease is None or lease <= now:
        return True
    claimed_at = claim.get("claimed_at")
    return (
        claim.get("claimed_by") == event_id
        and claimed_at is not None
        and now - claimed_at >= REDELIVERY_GRACE
    )


def _take_over_claim(
    db: FirestoreClient, claim: DocumentReference, event_id: str, now: dt.datetime
) -> dict[str, Any] | None:
    """Take the claim over in a transaction; return the claim found when not eligible."""
    from google.cloud import firestore

    @firestore.transactional
    def attempt(txn: firestore.Transaction) -> dict[str, Any] | None:
        current = claim.get(transaction=txn).to_dict() or {}
        if not may_take_over(current, event_id, now):
            return current
        txn.update(
            claim,
            {
                "claimed_by": event_id,
                "claimed_at": now,
                "lease_until": now + CLAIM_LEASE,
                "attempts": firestore.Increment(1),
                "previous_claimant": current.get("claimed_by"),
            },
        )
        return None

    return attempt(db.transaction())


def acquire_claim(
    db: FirestoreClient,
    config: Config,
    game_date: str,
    event_id: str,
    now: dt.datetime,
    hold_wait: float | None = None,
) -> TriggerResult | None:
    """Create or take over the date's trigger claim.

    Returns ``None`` when this delivery holds the claim and must publish, or the
    ``already_published`` result. While another live attempt holds it, polls for up to
    ``hold_wait`` seconds (the holder normally publishes within milliseconds), then raises
    ``TriggerPending``.
    """
    from google.api_core import exceptions as gexc

    claim = summary_ref(db, config, game_date).collection(CLAIMS).document(TRIGGER_CLAIM)
    try:
        claim.create(
            {
                "claimed_by": event_id,
                "claimed_at": now,
                "lease_until": now + CLAIM_LEASE,
                "published": False,
                "message_id": None,
                "published_at": None,
                "attempts": 1,
                "_expires_at": _expires(config, now),
            }
        )
        return None
    except gexc.AlreadyExists:
        pass
    wait = HOLD_WAIT_S if hold_wait is None else hold_wait
    started = time.monotonic()
    while True:
        current_now = now + dt.timedelta(seconds=time.monotonic() - started)
        existing = claim.get().to_dict() or {}
        if existing.get("published"):
            return TriggerResult("already_published", existing.get("message_id"))
        if may_take_over(existing, event_id, current_now):
            found = _take_over_claim(db, claim, event_id, current_now)
            if found is None:
                log(
                    "WARNING",
                    f"took over the unpublished trigger claim for {game_date} "
                    f"(was {existing.get('claimed_by')}); publishing",
                    game_date=game_date,
                    transition=config.transition,
                    event_id=event_id,
                )
                return None
            continue
        if time.monotonic() - started >= wait:
            log(
                "WARNING",
                f"trigger for {game_date} claimed by {existing.get('claimed_by')} until "
                f"{existing.get('lease_until')} and still unpublished after {wait:.0f}s; "
                "raising so Pub/Sub redelivers this event",
                game_date=game_date,
                transition=config.transition,
                event_id=event_id,
                claimed_by=existing.get("claimed_by"),
            )
            raise TriggerPending(
                f"trigger for {game_date} claimed by {existing.get('claimed_by')} is not "
                "published yet"
            )
        time.sleep(HOLD_POLL_S)


def claim_and_publish(
    clients: Clients,
    config: Config,
    t: Tally,
    completion: Completion,
    event_id: str,
    now: dt.datetime,
) -> TriggerResult:
    """Claim the date's trigger and publish it once; raise if the publish fails."""
    db = clients.db
    game_date = completion.game_date
    held = acquire_claim(db, config, game_date, event_id, now)
    if held is not None:
        return held
    claim = summary_ref(db, config, game_date).collection(CLAIMS).document(TRIGGER_CLAIM)
    data, attributes = trigger_payload(config, t, completion, event_id, now)
    try:
        message_id = clients.publisher.publish(config.trigger_topic_path, data, attributes)
    except Exception as exc:
        log(
            "ERROR",
            f"publishing the trigger for {game_date} to {config.trigger_topic_path} failed: "
            f"{exc!r}; raising so Pub/Sub redelivers and the redelivery publishes",
            game_date=game_date,
            transition=config.transition,
            event_id=event_id,
        )
        raise
    # One atomic commit: nobody (canary, reconcile) ever sees the claim published while the
    # summary still says not triggered, and the trigger path costs one round trip less.
    batch = db.batch()
    batch.update(claim, {"published": True, "message_id": message_id, "published_at": now})
    batch.set(
        summary_ref(db, config, game_date),
        {
            "_triggered": True,
            "_triggered_at": now,
            "_trigger_message_id": message_id,
            "_triggered_by": event_id,
        },
        merge=True,
    )
    batch.commit()
    return TriggerResult("published", message_id, claimed_by=event_id)


# --------------------------------------------------------------------------- bigquery


def write_rows(
    clients: Clients, config: Config, rows: list[dict[str, Any]], row_ids: list[str]
) -> None:
    """Dual-write rows to BigQuery; failures are logged at ERROR and never raised."""
    table = config.bq_table_id
    if not table or clients.rows is None:
        log("DEBUG", "BQ_COMPLETIONS_TABLE is empty; skipping the BigQuery dual write")
        return
    try:
        errors = clients.rows.insert_rows(table, rows, row_ids)
    except Exception as exc:
        log("ERROR", f"BigQuery insert into {table} failed: {exc!r}", row_ids=row_ids)
        return
    if errors:
        log("ERROR", f"BigQuery insert into {table} rejected rows", errors=errors, row_ids=row_ids)


# Rows follow the declared table schema (infra/model/schemas/orchestration/phase_completions.json);
# a test keeps them within it.


def completion_row(
    config: Config, completion: Completion, t: Tally, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """One ``event = completion`` row and its deterministic insert id."""
    phase = completion.phase or config.source_phase
    row = {
        "game_date": completion.game_date,
        "phase": phase,
        "transition": config.transition,
        "processor_name": completion.processor,
        "event": "completion",
        "status": completion.status,
        "expected": completion.processor in config.expected_processors,
        "completed_count": len(t.completed),
        "expected_count": len(t.expected),
        "is_triggered": False,
        "trigger_reason": None,
        "trigger_message_id": None,
        "execution_id": completion.execution_id,
        "correlation_id": completion.correlation_id,
        "record_count": completion.record_count,
        "recorded_at": now.isoformat(),
    }
    row_id = f"{completion.game_date}:{phase}:{completion.processor}"
    if not completion.succeeded:
        row_id += f":{completion.status}"
    return row, row_id


def trigger_row(
    config: Config, completion: Completion, t: Tally, result: TriggerResult, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """One ``event = trigger`` row and its deterministic insert id."""
    row = {
        "game_date": completion.game_date,
        "phase": config.source_phase,
        "transition": config.transition,
        "processor_name": None,
        "event": "trigger",
        "status": "triggered",
        "expected": None,
        "completed_count": len(t.completed),
        "expected_count": len(t.expected),
        "is_triggered": True,
        "trigger_reason": "all_expected_processors_complete",
        "trigger_message_id": result.message_id,
        "execution_id": None,
        "correlation_id": completion.correlation_id,
        "record_count": None,
        "recorded_at": now.isoformat(),
    }
    return row, f"{completion.game_date}:{config.transition}:trigger"


# --------------------------------------------------------------------------- handling


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: ``status`` is ``malformed``, ``ignored`` or ``recorded``."""

    status: str
    game_date: str | None = None
    processor: str | None = None
    record: str | None = None
    completed_count: int = 0
    expected_count: int = 0
    missing: tuple[str, ...] = ()
    trigger: str | None = None
    message_id: str | None = None
    reason: str | None = None


def process_completion(
    clients: Clients, config: Config, completion: Completion, event_id: str, now: dt.datetime
) -> Outcome:
    """Record one valid completion, converge the summary, and trigger when complete."""
    base = {
        "game_date": completion.game_date,
        "processor": completion.processor,
        "transition": config.transition,
        "event_id": event_id,
        "expected_count": len(config.expected_processors),
    }
    log(
        "INFO",
        f"recording {completion.processor} ({completion.status}) for {completion.game_date}",
        checkpoint="CHECKPOINT_PRE_TRANSACTION",
        status=completion.status,
        is_expected=completion.processor in config.expected_processors,
        **base,
    )
    record = record_completion(clients.db, config, completion, event_id, now)
    t, stored = converge_summary(clients.db, config, completion.game_date, now)
    counts = {"completed_count": len(t.completed), "expected_count": len(t.expected)}
    log(
        "INFO",
        f"{completion.game_date}: {len(t.completed)}/{len(t.expected)} complete "
        f"({record} {completion.processor})",
        checkpoint="CHECKPOINT_POST_TRANSACTION",
        record=record,
        completed=list(t.completed),
        missing=list(t.missing),
        unexpected=list(t.unexpected),
        **{**base, **counts},
    )
    if completion.processor not in config.expected_processors:
        log(
            "WARNING",
            f"{completion.processor} is not an expected processor of {config.transition}; "
            "recorded, never counted (disabled, or the manifest is out of date)",
            **base,
        )
    if record != "duplicate":
        row, row_id = completion_row(config, completion, t, now)
        write_rows(clients, config, [row], [row_id])
    outcome = Outcome(
        status="recorded",
        game_date=completion.game_date,
        processor=completion.processor,
        record=record,
        missing=t.missing,
        **counts,
    )
    if not t.complete:
        log(
            "INFO",
            f"{completion.game_date}: waiting for {', '.join(t.missing)}",
            checkpoint="CHECKPOINT_WAITING",
            missing=list(t.missing),
            completed=list(t.completed),
            **{**base, **counts},
        )
        return _with(outcome, trigger="waiting")
    if stored.get("_triggered"):
        log(
            "INFO",
            f"{completion.game_date}: already triggered "
            f"(message {stored.get('_trigger_message_id')}); {record} delivery is a no-op",
            **{**base, **counts},
        )
        return _with(
            outcome, trigger="already_published", message_id=stored.get("_trigger_message_id")
        )
    if completion.skip_downstream_trigger:
        clients.db.collection(config.collection).document(completion.game_date).set(
            {"_trigger_skipped": True}, merge=True
        )
        log(
            "INFO",
            f"{completion.game_date}: complete, but this message has skip_downstream_trigger; "
            "not claiming the trigger (a later ordinary message can)",
            **{**base, **counts},
        )
        return _with(outcome, trigger="skipped")
    result = claim_and_publish(clients, config, t, completion, event_id, now)
    if result.state == "published":
        log(
            "INFO",
            f"{completion.game_date}: all {len(t.expected)} processors complete; published "
            f"trigger {result.message_id} to {config.trigger_topic_path}",
            checkpoint="CHECKPOINT_TRIGGER_SET",
            message_id=result.message_id,
            completed=list(t.completed),
            **{**base, **counts},
        )
        row, row_id = trigger_row(config, completion, t, result, now)
        write_rows(clients, config, [row], [row_id])
    else:
        log(
            "INFO",
            f"{completion.game_date}: trigger already published (message {result.message_id}); "
            f"{record} delivery is a no-op",
            message_id=result.message_id,
            **{**base, **counts},
        )
    return _with(outcome, trigger=result.state, message_id=result.message_id)


def _with(outcome: Outcome, **changes: Any) -> Outcome:
    return Outcome(**{**outcome.__dict__, **changes})


def handle_event(
    clients: Clients | None, config: Config, event_id: str, data: Any, now: dt.datetime
) -> Outcome:
    """Handle one delivery's CloudEvent data. Bad data is logged and acknowledged.

    ``clients`` may be ``None`` for data that never reaches Firestore (tests of malformed
    input); they are created lazily otherwise.
    """
    try:
        payload, _attributes = decode_pubsub_data(data)
        completion = parse_completion(payload, config.known_phases)
    except MalformedMessage as exc:
        log(
            "WARNING",
            f"malformed completion message acknowledged without effect: {exc.reason}",
            reason=exc.reason,
            content=_content_for_log(exc.content),
            event_id=event_id,
            transition=config.transition,
        )
        return Outcome(status="malformed", reason=exc.reason)
    if completion.phase is not None and completion.phase != config.source_phase:
        log(
            "INFO",
            f"{completion.processor} completion for phase {completion.phase} ignored: "
            f"{config.transition} gates on {config.source_phase}",
            game_date=completion.game_date,
            processor=completion.processor,
            phase=completion.phase,
            event_id=event_id,
        )
        return Outcome(
            status="ignored",
            game_date=completion.game_date,
            processor=completion.processor,
            reason=f"phase {completion.phase}",
        )
    if clients is None:
        clients = get_clients(config)
    return process_completion(clients, config, completion, event_id, now)


@functions_framework.cloud_event
def handle_phase3_completion(cloud_event: CloudEvent) -> None:
    """Cloud Functions entry point: one Pub/Sub delivery of a completion message."""
    config = Config.from_env(os.environ)
    handle_event(None, config, str(cloud_event["id"]), cloud_event.data, dt.datetime.now(dt.UTC))
