"""Handling one delivery: parse, record, converge the summary, and trigger when complete.

``handle_event`` is the plain function behind the entry point in ``main.py``; tests call it
in-process with their own clients and clock. Structured checkpoint logs mark each step:
``CHECKPOINT_PRE_TRANSACTION``, ``CHECKPOINT_POST_TRANSACTION``, ``CHECKPOINT_WAITING`` (with
the missing processors) and ``CHECKPOINT_TRIGGER_SET``.

Messages with ``skip_downstream_trigger: true`` (backfills) are recorded and count towards
completion, but never claim the trigger themselves; a later ordinary message for the same
date can. Malformed messages are logged at WARNING with their content and acknowledged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from functions._shared.completion import (
    TRIGGER_MESSAGE_ID,
    TRIGGER_SKIPPED,
    TRIGGERED,
    summary_ref,
)
from functions._shared.logs import log
from functions._shared.messages import (
    Completion,
    MalformedMessage,
    content_for_log,
    parse_completion,
)
from functions.phase3_to_phase4.bigquery_log import completion_row, trigger_row, write_rows
from functions.phase3_to_phase4.claim import claim_and_publish
from functions.phase3_to_phase4.clients import Clients, get_clients
from functions.phase3_to_phase4.cloudevent import decode_pubsub_data
from functions.phase3_to_phase4.config import Config
from functions.phase3_to_phase4.tracking import converge_summary, record_completion


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
        completed_count=len(t.completed),
        expected_count=len(t.expected),
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
    if stored.get(TRIGGERED):
        log(
            "INFO",
            f"{completion.game_date}: already triggered "
            f"(message {stored.get(TRIGGER_MESSAGE_ID)}); {record} delivery is a no-op",
            **{**base, **counts},
        )
        return _with(
            outcome, trigger="already_published", message_id=stored.get(TRIGGER_MESSAGE_ID)
        )
    if completion.skip_downstream_trigger:
        summary_ref(clients.db, config.collection, completion.game_date).set(
            {TRIGGER_SKIPPED: True}, merge=True
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
        row, row_id = trigger_row(config, completion, t, result.message_id, now)
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
    return replace(outcome, **changes)


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
            content=content_for_log(exc.content),
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
