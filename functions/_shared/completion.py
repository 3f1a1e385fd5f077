"""The Firestore completion model: document paths, field names and the summary derivation.

Written by the orchestrator (``functions/phase3_to_phase4``), read by ``pipeline_canary``, its
``reconcile`` command and the local pipeline; the stack puts its TTL policy on ``EXPIRES_AT``
of the completion collection and of ``TTL_SUBCOLLECTIONS``. ``{collection}`` is the
transition's ``COMPLETION_COLLECTION``.

``{collection}/{game_date}/completions/{processor}`` — one completion record per processor,
    created with create-if-absent, so a duplicate delivery is a no-op and concurrent
    deliveries of different processors never contend on one document. Fields: ``processor``
    (snake_case), ``processor_name`` (as sent), ``game_date``, ``phase``, ``status``,
    ``expected`` (bool, against ``EXPECTED_PROCESSORS`` at write time), ``execution_id``,
    ``correlation_id``, ``output_table``, ``output_dataset``, ``record_count``,
    ``timestamp`` (as sent), ``completed_at`` (the sent timestamp when it parses, else
    ``recorded_at``), ``recorded_at``, ``event_id``, ``skip_downstream_trigger``,
    ``_expires_at``. A record whose status is not ``success`` is replaced by a later success
    of the same processor, never the reverse. Only records of expected processors with
    status ``success`` count.

``{collection}/{game_date}`` — the summary, derived from the records (``summary_fields``) and
    never incremented: one map per processor seen (``status``, ``completed_at``,
    ``recorded_at``, ``execution_id``, ``record_count``, ``output_table``, ``expected``),
    ``_completed``, ``_completed_count``, ``_expected``, ``_expected_count``, ``_missing``,
    ``_unexpected``, ``_first_completion_at``, ``_last_completion_at`` (over all records),
    ``_game_date``, ``_transition``, ``_created_at``, ``_expires_at``, and the trigger state
    ``_triggered``, ``_triggered_at``, ``_trigger_message_id``, ``_triggered_by`` (written
    only by the delivery that published) and ``_trigger_skipped`` (the enabled set was
    complete but the completing message asked to skip downstream triggers).

``{collection}/{game_date}/claims/trigger`` — the trigger claim, created atomically by the
    first delivery that sees the enabled set complete: ``claimed_by`` (CloudEvent id),
    ``claimed_at``, ``lease_until``, ``published``, ``message_id``, ``published_at``,
    ``attempts`` (``previous_claimant`` after a takeover), ``_expires_at``. A published
    claim is never published again.

``canary_announcements/{transition}_{game_date}`` (``ANNOUNCEMENTS``) — written only by the
    canary, from its own pull subscription of the transition's source topic, never from the
    orchestrator's documents: what the upstream phase *announced*. ``_transition``,
    ``_game_date``, ``_updated_at``, ``_expires_at``, and one map per processor announced
    (merged by ``functions.pipeline_canary.announcements``): ``first_announced_at`` (the
    earliest publish time of any of its announcements), ``first_success_at`` (of a
    ``success`` one), ``first_triggering_at`` (of a ``success`` one without
    ``skip_downstream_trigger``), ``announcements`` (how many deliveries, duplicates
    included), ``phase``, ``last_status``, ``message_id`` (of the first).

Every document created carries ``_expires_at`` (its creation time plus
``COMPLETION_TTL_DAYS``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient
    from google.cloud.firestore import CollectionReference, DocumentReference

# Subcollections of a summary document, and the trigger claim's document id.
COMPLETIONS = "completions"
CLAIMS = "claims"
TRIGGER_CLAIM = "trigger"
# Every document carries this timestamp; the stack's TTL policies delete on it.
EXPIRES_AT = "_expires_at"
TTL_SUBCOLLECTIONS = (COMPLETIONS, CLAIMS)
# The canary's record of announcements (a top-level collection; its documents expire too).
ANNOUNCEMENTS = "canary_announcements"

# Processor names (the record ids) are snake_case.
PROCESSOR_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SUCCESS = "success"

# Completion record fields read beyond the writer.
STATUS = "status"
RECORDED_AT = "recorded_at"

# Summary fields.
COMPLETED = "_completed"
COMPLETED_COUNT = "_completed_count"
EXPECTED = "_expected"
EXPECTED_COUNT = "_expected_count"
MISSING = "_missing"
UNEXPECTED = "_unexpected"
FIRST_COMPLETION_AT = "_first_completion_at"
LAST_COMPLETION_AT = "_last_completion_at"
GAME_DATE = "_game_date"
TRANSITION = "_transition"
CREATED_AT = "_created_at"
TRIGGERED = "_triggered"
TRIGGERED_AT = "_triggered_at"
TRIGGER_MESSAGE_ID = "_trigger_message_id"
TRIGGERED_BY = "_triggered_by"
TRIGGER_SKIPPED = "_trigger_skipped"

# Trigger claim fields read beyond the orchestrator.
PUBLISHED = "published"
MESSAGE_ID = "message_id"
PUBLISHED_AT = "published_at"


# --------------------------------------------------------------------------- documents


def summary_ref(db: FirestoreClient, collection: str, game_date: str) -> DocumentReference:
    """``{collection}/{game_date}``."""
    return db.collection(collection).document(game_date)


def claim_ref(summary: DocumentReference) -> DocumentReference:
    """The trigger claim under ``summary``."""
    # ``DocumentReference.collection`` is unannotated in the client library.
    claims: CollectionReference = summary.collection(CLAIMS)
    return claims.document(TRIGGER_CLAIM)


def read_records(summary: DocumentReference) -> dict[str, dict[str, Any]]:
    """Every completion record under ``summary``, by processor."""
    return {snap.id: snap.to_dict() or {} for snap in summary.collection(COMPLETIONS).stream()}


def announcements_ref(db: FirestoreClient, transition: str, game_date: str) -> DocumentReference:
    """``canary_announcements/{transition}_{game_date}``."""
    return db.collection(ANNOUNCEMENTS).document(f"{transition}_{game_date}")


# Announcement fields (one map per processor in an announcements document).
FIRST_ANNOUNCED_AT = "first_announced_at"
FIRST_SUCCESS_AT = "first_success_at"
FIRST_TRIGGERING_AT = "first_triggering_at"
ANNOUNCEMENT_COUNT = "announcements"
UPDATED_AT = "_updated_at"


# --------------------------------------------------------------------------- derivation


@dataclass(frozen=True)
class Tally:
    """The completion state of one game date, derived only from its completion records."""

    completed: tuple[str, ...]
    """Expected processors with a ``success`` record, sorted (the summary's ``_completed``)."""
    missing: tuple[str, ...]
    """Expected processors without one, sorted; empty: the set is complete."""
    unexpected: tuple[str, ...]
    """Processors with a record (of any status) that are not expected, sorted."""
    expected: tuple[str, ...]
    """The expected set it was counted against, sorted."""
    processors: dict[str, dict[str, Any]]
    """Every record's processor → its map in the summary (``status``, ``completed_at``,
    ``recorded_at``, ``execution_id``, ``record_count``, ``output_table``, ``expected``)."""
    first_completion_at: dt.datetime | None
    """The earliest ``recorded_at`` over all records, any status or processor (likewise
    ``last_completion_at``, the latest); ``None`` when no record carries one."""
    last_completion_at: dt.datetime | None

    @property
    def complete(self) -> bool:
        return not self.missing


def recorded_at(record: Mapping[str, Any]) -> dt.datetime | None:
    """When the orchestrator wrote ``record`` (its ``RECORDED_AT``); ``None`` when the record
    carries no such time (Firestore reads a timestamp back as a ``datetime``)."""
    at = record.get(RECORDED_AT)
    return at if isinstance(at, dt.datetime) else None


def tally(records: Mapping[str, Mapping[str, Any]], expected: Sequence[str]) -> Tally:
    """Count records of expected processors whose status is success; list the rest."""
    expected_set = set(expected)
    completed = sorted(
        name
        for name, rec in records.items()
        if name in expected_set and rec.get(STATUS) == SUCCESS
    )
    recorded = [at for rec in records.values() if (at := recorded_at(rec)) is not None]
    processors = {
        name: {
            "status": rec.get(STATUS),
            "completed_at": rec.get("completed_at"),
            "recorded_at": rec.get(RECORDED_AT),
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
        COMPLETED: list(t.completed),
        COMPLETED_COUNT: len(t.completed),
        EXPECTED: list(t.expected),
        EXPECTED_COUNT: len(t.expected),
        MISSING: list(t.missing),
        UNEXPECTED: list(t.unexpected),
        FIRST_COMPLETION_AT: t.first_completion_at,
        LAST_COMPLETION_AT: t.last_completion_at,
    }


def summary_identity(game_date: str, transition: str) -> dict[str, Any]:
    """The summary fields naming its date and transition."""
    return {GAME_DATE: game_date, TRANSITION: transition}


def trigger_state(triggered: bool, at: Any = None, message_id: Any = None) -> dict[str, Any]:
    """The summary's trigger fields; ``at`` and ``message_id`` are dropped unless triggered."""
    return {
        TRIGGERED: triggered,
        TRIGGERED_AT: at if triggered else None,
        TRIGGER_MESSAGE_ID: message_id if triggered else None,
    }
