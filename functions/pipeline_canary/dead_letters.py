"""Dead letters: messages waiting in the dead-letter subscription of a push edge.

Pushes to that edge's target keep failing (a stripped ``roles/run.invoker`` answers 403), so
the day is stalling now, before any completion is missing. The messages are peeked (pulled,
then released with a zero ack deadline), never consumed, so they stay for the operator to
inspect and replay. The pull returns immediately, which Pub/Sub may answer with fewer
messages than wait (even none on a given run); dead letters are kept, so a later run sees
them: a miss delays, never hides, a stall.
"""

from __future__ import annotations

import json
from typing import Any

from functions.pipeline_canary.config import CanaryConfig
from functions.pipeline_canary.findings import DEAD_LETTERS, Finding

PEEK_MAX_MESSAGES = 100


def peek_dead_letters(subscriber: Any, path: str) -> list[dict[str, Any]]:
    """Up to ``PEEK_MAX_MESSAGES`` messages of ``path``, released again (never acknowledged).

    Each is ``{message_id, game_date, source_subscription}``; ``game_date`` is read from the
    JSON body when it has one.
    """
    response = subscriber.pull(
        request={"subscription": path, "max_messages": PEEK_MAX_MESSAGES,
                 "return_immediately": True},
        timeout=30,
    )
    received = list(response.received_messages)
    if received:
        subscriber.modify_ack_deadline(request={
            "subscription": path, "ack_ids": [r.ack_id for r in received], "ack_deadline_seconds": 0,
        })
    peeked = []
    for r in received:
        game_date = None
        try:
            body = json.loads(bytes(r.message.data).decode("utf-8"))
            if isinstance(body, dict) and isinstance(body.get("game_date"), str):
                game_date = body["game_date"]
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        peeked.append({
            "message_id": r.message.message_id,
            "game_date": game_date,
            "source_subscription": r.message.attributes.get(
                "CloudPubSubDeadLetterSourceSubscription"),
        })
    return peeked


def check_dead_letters(peek: Any, config: CanaryConfig) -> list[Finding]:
    """One ``dead_letters`` finding per push edge whose dead-letter subscription holds messages.

    ``peek(path)`` returns the peeked messages (``peek_dead_letters`` bound to a client).
    A subscription the canary cannot read is a finding too: a blind canary is not healthy.
    """
    findings: list[Finding] = []
    for queue in config.dead_letters:
        path = f"projects/{config.project}/subscriptions/{queue.subscription}"
        try:
            messages = peek(path)
        except Exception as exc:  # any client error means the edge is unwatched
            findings.append(Finding(
                DEAD_LETTERS, queue.edge, "",
                f"cannot read dead-letter subscription {path} of edge {queue.edge}: {exc}",
                {"subscription": path, "target": queue.target, "error": str(exc)},
            ))
            continue
        if not messages:
            continue
        dates = sorted({m["game_date"] for m in messages if m["game_date"]})
        more = "+" if len(messages) >= PEEK_MAX_MESSAGES else ""
        findings.append(Finding(
            DEAD_LETTERS, queue.edge, ",".join(dates),
            f"{len(messages)}{more} message(s) dead-lettered on edge {queue.edge}: pushes to "
            f"{queue.target} keep failing (a missing roles/run.invoker answers 403; see the "
            f"target's request logs); game dates {dates or 'unknown'}",
            {"subscription": path, "target": queue.target, "count": len(messages),
             "game_dates": dates, "message_ids": [m["message_id"] for m in messages[:10]]},
        ))
    return findings
