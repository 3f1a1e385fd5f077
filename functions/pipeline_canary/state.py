"""What Firestore holds for one transition and date, and where its summary is stale.

Shared by the canary's ``stale_tracking`` finding and ``reconcile``; the documents are
described in ``functions._shared.completion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions._shared import completion as model
from functions.pipeline_canary.config import Transition

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient


@dataclass(frozen=True)
class DateState:
    """What Firestore holds for one transition and game date."""

    game_date: str
    summary: dict[str, Any] | None
    records: dict[str, dict[str, Any]]
    claim: dict[str, Any] | None

    @property
    def published(self) -> bool:
        return bool(self.claim and self.claim.get(model.PUBLISHED))


def read_state(db: FirestoreClient, transition: Transition, game_date: str) -> DateState:
    """Read the summary, the completion records and the trigger claim of one date."""
    ref = model.summary_ref(db, transition.collection, game_date)
    summary = ref.get()
    claim = model.claim_ref(ref).get()
    records = model.read_records(ref)
    return DateState(
        game_date=game_date,
        summary=summary.to_dict() if summary.exists else None,
        records=records,
        claim=claim.to_dict() if claim.exists else None,
    )


@dataclass(frozen=True)
class Difference:
    """A summary field whose stored value disagrees with what the records say."""

    field: str
    stored: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "stored": self.stored, "actual": self.actual}


def stale_differences(state: DateState, transition: Transition) -> list[Difference]:
    """Where the summary disagrees with its completion records and its trigger claim."""
    if not state.records and state.summary is None:
        return []
    if state.summary is None:
        return [Difference("summary", None, f"{len(state.records)} completion records")]
    t = model.tally(state.records, transition.expected)
    summary = state.summary
    diffs: list[Difference] = []
    checks: list[tuple[str, Any, Any]] = [
        (model.COMPLETED_COUNT, summary.get(model.COMPLETED_COUNT), len(t.completed)),
        (model.MISSING, sorted(summary.get(model.MISSING) or []), list(t.missing)),
        (model.UNEXPECTED, sorted(summary.get(model.UNEXPECTED) or []), list(t.unexpected)),
        (model.TRIGGERED, bool(summary.get(model.TRIGGERED)), state.published),
    ]
    if state.published:
        checks.append(
            (
                model.TRIGGER_MESSAGE_ID,
                summary.get(model.TRIGGER_MESSAGE_ID),
                (state.claim or {}).get(model.MESSAGE_ID),
            )
        )
    for name, stored, actual in checks:
        if stored != actual:
            diffs.append(Difference(name, stored, actual))
    return diffs


def rewrite_fields(state: DateState, transition: Transition) -> dict[str, Any]:
    """The summary fields ``reconcile --fix`` writes: records-derived plus claim state."""
    t = model.tally(state.records, transition.expected)
    claim = state.claim or {}
    fields: dict[str, Any] = {
        **model.summary_fields(t),
        **model.summary_identity(state.game_date, transition.name),
        **model.trigger_state(
            state.published, claim.get(model.PUBLISHED_AT), claim.get(model.MESSAGE_ID)
        ),
    }
    if state.summary is None or model.EXPIRES_AT not in state.summary:
        expiries = [r[model.EXPIRES_AT] for r in state.records.values() if r.get(model.EXPIRES_AT)]
        if expiries:
            fields[model.EXPIRES_AT] = max(expiries)
    return fields
