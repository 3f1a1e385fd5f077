"""The trigger claim: exactly one trigger per game date, never lost.

The first delivery that sees the enabled set complete creates the date's claim atomically
(``claims/trigger``, see ``functions._shared.completion``). The claimant publishes, then marks
the claim published and sets the summary's trigger fields in one batched commit (nobody sees
one without the other). If the publish fails the handler raises so Pub/Sub redelivers; a
redelivery of the same event (arriving at least ``REDELIVERY_GRACE`` after the claim, Pub/Sub's
minimum backoff), or any delivery once the lease has expired, takes the claim over in a
transaction and publishes. Any other delivery that finds the claim unpublished polls it for
``HOLD_WAIT_S`` and, if it is still unpublished, raises ``TriggerPending`` so that Pub/Sub
redelivers it: the trigger is never lost, even when the claimant died. A published claim is
never published again; a crash between the publish and the mark can publish twice, so the
trigger carries the idempotency key ``{transition}:{game_date}`` for the next phase. The
function's trigger must have retries enabled for redelivery to happen at all.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions._shared.completion import (
    EXPIRES_AT,
    MESSAGE_ID,
    PUBLISHED,
    PUBLISHED_AT,
    TRIGGERED_BY,
    Tally,
    claim_ref,
    summary_ref,
    trigger_state,
)
from functions._shared.logs import log
from functions._shared.messages import Completion
from functions.phase3_to_phase4.clients import Clients
from functions.phase3_to_phase4.config import Config
from functions.phase3_to_phase4.tracking import expires_at

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient
    from google.cloud.firestore import DocumentReference

# Longer than a live attempt can take (publish timeout + marking); shorter means a claim
# whose holder died is taken over sooner by the next delivery.
CLAIM_LEASE = dt.timedelta(minutes=2)
# Pub/Sub redelivers a failed event after at least its minimum backoff (10 s by default).
REDELIVERY_GRACE = dt.timedelta(seconds=10)
HOLD_WAIT_S = 15.0
HOLD_POLL_S = 0.1


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
    if claim.get(PUBLISHED):
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

    # ``firestore.transactional`` is unannotated: its call returns what ``attempt`` returns.
    found: dict[str, Any] | None = attempt(db.transaction())
    return found


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

    claim = claim_ref(summary_ref(db, config.collection, game_date))
    try:
        claim.create(
            {
                "claimed_by": event_id,
                "claimed_at": now,
                "lease_until": now + CLAIM_LEASE,
                PUBLISHED: False,
                MESSAGE_ID: None,
                PUBLISHED_AT: None,
                "attempts": 1,
                EXPIRES_AT: expires_at(config, now),
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
        if existing.get(PUBLISHED):
            return TriggerResult("already_published", existing.get(MESSAGE_ID))
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
    summary = summary_ref(db, config.collection, game_date)
    claim = claim_ref(summary)
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
    batch.update(claim, {PUBLISHED: True, MESSAGE_ID: message_id, PUBLISHED_AT: now})
    batch.set(
        summary, {**trigger_state(True, now, message_id), TRIGGERED_BY: event_id}, merge=True
    )
    batch.commit()
    return TriggerResult("published", message_id, claimed_by=event_id)
