"""Completion tracking: one record per processor, and the summary derived from the records.

A completion is recorded with create-if-absent (``record_completion``), so a duplicate
delivery is a no-op and concurrent deliveries of different processors never contend on one
document; a non-success record is replaced by a later success of the same processor under an
optimistic precondition on its update time, never the reverse. The summary is never
incremented: every writer rewrites the record-derived fields from a fresh listing, then lists
again and rewrites while the listing grew (``converge_summary``). Listings only grow, so the
last write always holds the full set and no count can stay stuck below the truth. The
documents and their fields are described in ``functions._shared.completion``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from functions._shared.completion import (
    COMPLETIONS,
    CREATED_AT,
    EXPIRES_AT,
    RECORDED_AT,
    STATUS,
    SUCCESS,
    Tally,
    read_records,
    summary_fields,
    summary_identity,
    summary_ref,
    tally,
    trigger_state,
)
from functions._shared.logs import log
from functions._shared.messages import Completion
from functions.phase3_to_phase4.config import Config

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient

MAX_SUMMARY_ROUNDS = 10
MAX_UPGRADE_ATTEMPTS = 5


def expires_at(config: Config, now: dt.datetime) -> dt.datetime:
    """When a document created at ``now`` expires (the stack's TTL policy reads it)."""
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
    """The Firestore completion record for ``completion`` (fields: ``functions._shared.completion``)."""
    return {
        "processor": completion.processor,
        "processor_name": completion.processor_name,
        "game_date": completion.game_date,
        "phase": completion.phase or config.source_phase,
        STATUS: completion.status,
        "expected": completion.processor in config.expected_processors,
        "execution_id": completion.execution_id,
        "correlation_id": completion.correlation_id,
        "output_table": completion.output_table,
        "output_dataset": completion.output_dataset,
        "record_count": completion.record_count,
        "timestamp": completion.timestamp,
        "completed_at": _completed_at(completion, now),
        RECORDED_AT: now,
        "event_id": event_id,
        "skip_downstream_trigger": completion.skip_downstream_trigger,
        EXPIRES_AT: expires_at(config, now),
    }


def record_completion(
    db: FirestoreClient, config: Config, completion: Completion, event_id: str, now: dt.datetime
) -> str:
    """Create the processor's record; return ``created``, ``duplicate`` or ``upgraded``."""
    from google.api_core import exceptions as gexc

    ref = summary_ref(db, config.collection, completion.game_date).collection(COMPLETIONS)
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
        if existing.get(STATUS) == SUCCESS or not completion.succeeded:
            return "duplicate"
        try:
            ref.update(record, option=db.write_option(last_update_time=snap.update_time))
            return "upgraded"
        except gexc.FailedPrecondition:
            continue
    return "duplicate"


def list_records(db: FirestoreClient, config: Config, game_date: str) -> dict[str, dict[str, Any]]:
    """All completion records of ``game_date``, by processor."""
    return read_records(summary_ref(db, config.collection, game_date))


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

    ref = summary_ref(db, config.collection, game_date)
    snap = ref.get()
    stored: dict[str, Any] | None = snap.to_dict() if snap.exists else None
    if stored is None:
        # The first write to a summary is always this create, so the trigger fields start
        # False and record-derived rewrites (merges) never touch them.
        base = {
            **summary_identity(game_date, config.transition),
            **trigger_state(False),
            CREATED_AT: now,
            EXPIRES_AT: expires_at(config, now),
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
        ref.set({**desired, EXPIRES_AT: expires_at(config, now)}, merge=True)
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
