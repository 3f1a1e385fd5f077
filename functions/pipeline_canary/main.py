"""Pipeline canary: find stalled triggers, configuration drift and stale completion tracking.

HTTP entry point ``check_pipeline_health``, called every 15 minutes by Cloud Scheduler. For
today and yesterday (in ``CANARY_TIMEZONE``) and each gated transition of
``GATED_TRANSITIONS`` it reads the orchestrator's Firestore documents (the data model is
documented at the top of ``functions/phase3_to_phase4/main.py``) and reports:

``trigger_stalled``      every expected processor has a success record, the trigger claim is
                         not published, and the last completion is older than
                         ``stall_minutes``; names the completed and missing processors.
``configuration_drift``  records from processors that are not expected; expected processors
                         never seen on yesterday's date once that date has any completion;
                         a summary whose expected set differs from the declared one.
``stale_tracking``       a summary that disagrees with its own completion records or trigger
                         claim (count, missing, unexpected, triggered).
``dead_letters``         messages waiting in the dead-letter subscription of a push edge of
                         ``DEAD_LETTER_SUBSCRIPTIONS``: pushes to that edge's target keep
                         failing (a stripped ``roles/run.invoker`` answers 403), so the day
                         is stalling now, before any completion is missing. The messages
                         are peeked (pulled, then released with a zero ack deadline), never
                         consumed, so they stay for the operator to inspect and replay.
                         The pull returns immediately, which Pub/Sub may answer with fewer
                         messages than wait (even none on a given run); dead letters are
                         kept, so a later run sees them: a miss delays, never hides, a stall.

Each finding is one structured ERROR log line (the alert policy fires on those). The
response is always HTTP 200 with a JSON report ``{"healthy": bool, "findings": [...]}``:
a finding is not a failure of the canary, and a non-2xx answer would only make Cloud
Scheduler retry the same check. A configuration error raises (HTTP 500). Nothing is healed
here; ``python -m functions.pipeline_canary.reconcile --fix`` rewrites stale summaries.

Dates completed only by backfill messages (``skip_downstream_trigger``) are not stalled:
they are listed under ``notes``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import functions_framework

if TYPE_CHECKING:
    import flask
    from google.cloud.firestore import Client as FirestoreClient

COMPLETIONS = "completions"
CLAIMS = "claims"
TRIGGER_CLAIM = "trigger"
SUCCESS = "success"

TRIGGER_STALLED = "trigger_stalled"
CONFIGURATION_DRIFT = "configuration_drift"
STALE_TRACKING = "stale_tracking"
DEAD_LETTERS = "dead_letters"
PEEK_MAX_MESSAGES = 100

_SNAKE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LOG_LOCK = threading.Lock()


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one structured JSON log line (Cloud Logging reads ``severity``) to stdout."""
    line = json.dumps({"severity": severity, "message": message, **fields}, default=str)
    with _LOG_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------- config


class ConfigError(RuntimeError):
    """A required environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Transition:
    """One gated transition, as the stack declares it in ``GATED_TRANSITIONS``."""

    name: str
    source_phase: str
    collection: str
    expected: tuple[str, ...]
    stall_minutes: int
    trigger_topic: str


def require_env(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(
            f"environment variable {name} is not set: expected {what}; the stack sets it "
            "from the manifest (set it yourself when running locally)"
        )
    return value.strip()


def _transition(item: Any, index: int) -> Transition:
    where = f"GATED_TRANSITIONS[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be an object, got {item!r}")
    for key in ("name", "source_phase", "collection", "trigger_topic"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ConfigError(f"{where}.{key} must be a non-empty string, got {item.get(key)!r}")
    expected = item.get("expected")
    if (
        not isinstance(expected, list)
        or not expected
        or not all(isinstance(p, str) and _SNAKE_RE.match(p) for p in expected)
    ):
        raise ConfigError(
            f"{where}.expected must be a non-empty list of snake_case processor names, "
            f"got {expected!r}"
        )
    stall = item.get("stall_minutes", 30)
    if not isinstance(stall, int) or isinstance(stall, bool) or stall < 1:
        raise ConfigError(f"{where}.stall_minutes must be a positive integer, got {stall!r}")
    return Transition(
        name=item["name"],
        source_phase=item["source_phase"],
        collection=item["collection"],
        expected=tuple(sorted(expected)),
        stall_minutes=stall,
        trigger_topic=item["trigger_topic"],
    )


def load_transitions(environ: Mapping[str, str]) -> tuple[Transition, ...]:
    """Parse ``GATED_TRANSITIONS``; raise ``ConfigError`` naming the bad entry."""
    raw = require_env(environ, "GATED_TRANSITIONS", "a JSON array of gated transitions")
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"GATED_TRANSITIONS is not valid JSON ({exc}): {raw!r}") from exc
    if not isinstance(items, list):
        raise ConfigError(f"GATED_TRANSITIONS must be a JSON array, got {raw!r}")
    transitions = tuple(_transition(item, i) for i, item in enumerate(items))
    names = [t.name for t in transitions]
    if len(set(names)) != len(names):
        raise ConfigError(f"GATED_TRANSITIONS names a transition twice: {names}")
    return transitions


@dataclass(frozen=True)
class DeadLetterQueue:
    """The dead-letter subscription of one push edge (``DEAD_LETTER_SUBSCRIPTIONS``)."""

    edge: str
    subscription: str
    target: str


def load_dead_letter_queues(environ: Mapping[str, str]) -> tuple[DeadLetterQueue, ...]:
    """Parse ``DEAD_LETTER_SUBSCRIPTIONS`` (optional: unset means no push edges to watch)."""
    raw = environ.get("DEAD_LETTER_SUBSCRIPTIONS", "").strip()
    if not raw:
        return ()
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"DEAD_LETTER_SUBSCRIPTIONS is not valid JSON ({exc}): {raw!r}") from exc
    if not isinstance(items, list):
        raise ConfigError(f"DEAD_LETTER_SUBSCRIPTIONS must be a JSON array, got {raw!r}")
    queues = []
    for i, item in enumerate(items):
        where = f"DEAD_LETTER_SUBSCRIPTIONS[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be an object, got {item!r}")
        for key in ("edge", "subscription", "target"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ConfigError(f"{where}.{key} must be a non-empty string, got {item.get(key)!r}")
        queues.append(DeadLetterQueue(item["edge"], item["subscription"], item["target"]))
    return tuple(queues)


@dataclass(frozen=True)
class CanaryConfig:
    """The canary's configuration, read from the environment on first use."""

    project: str
    timezone: str
    transitions: tuple[Transition, ...]
    dead_letters: tuple[DeadLetterQueue, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CanaryConfig:
        project = require_env(environ, "GCP_PROJECT", "the GCP project id")
        tz = require_env(environ, "CANARY_TIMEZONE", "an IANA time zone, e.g. America/New_York")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"CANARY_TIMEZONE {tz!r} is not an IANA time zone") from exc
        return cls(project=project, timezone=tz, transitions=load_transitions(environ),
                   dead_letters=load_dead_letter_queues(environ))


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
            from google.cloud import pubsub_v1

            _SUBSCRIBERS[key] = pubsub_v1.SubscriberClient()
        return _SUBSCRIBERS[key]


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


# --------------------------------------------------------------------------- tally
# The same derivation as the orchestrator's (a contract test keeps them identical): the
# bundles are self-contained, so each function carries its own copy.


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


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class DateState:
    """What Firestore holds for one transition and game date."""

    game_date: str
    summary: dict[str, Any] | None
    records: dict[str, dict[str, Any]]
    claim: dict[str, Any] | None

    @property
    def published(self) -> bool:
        return bool(self.claim and self.claim.get("published"))


def read_state(db: FirestoreClient, transition: Transition, game_date: str) -> DateState:
    """Read the summary, the completion records and the trigger claim of one date."""
    ref = db.collection(transition.collection).document(game_date)
    summary = ref.get()
    claim = ref.collection(CLAIMS).document(TRIGGER_CLAIM).get()
    records = {snap.id: snap.to_dict() or {} for snap in ref.collection(COMPLETIONS).stream()}
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
    t = tally(state.records, transition.expected)
    summary = state.summary
    diffs: list[Difference] = []
    checks: list[tuple[str, Any, Any]] = [
        ("_completed_count", summary.get("_completed_count"), len(t.completed)),
        ("_missing", sorted(summary.get("_missing") or []), list(t.missing)),
        ("_unexpected", sorted(summary.get("_unexpected") or []), list(t.unexpected)),
        ("_triggered", bool(summary.get("_triggered")), state.published),
    ]
    if state.published:
        checks.append(
            (
                "_trigger_message_id",
                summary.get("_trigger_message_id"),
                (state.claim or {}).get("message_id"),
            )
        )
    for name, stored, actual in checks:
        if stored != actual:
            diffs.append(Difference(name, stored, actual))
    return diffs


def rewrite_fields(state: DateState, transition: Transition) -> dict[str, Any]:
    """The summary fields ``reconcile --fix`` writes: records-derived plus claim state."""
    t = tally(state.records, transition.expected)
    claim = state.claim or {}
    fields: dict[str, Any] = {
        **summary_fields(t),
        "_game_date": state.game_date,
        "_transition": transition.name,
        "_triggered": state.published,
        "_triggered_at": claim.get("published_at") if state.published else None,
        "_trigger_message_id": claim.get("message_id") if state.published else None,
    }
    if state.summary is None or "_expires_at" not in state.summary:
        expiries = [r["_expires_at"] for r in state.records.values() if r.get("_expires_at")]
        if expiries:
            fields["_expires_at"] = max(expiries)
    return fields


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One problem the canary found; logged at ERROR and returned in the report."""

    finding: str
    transition: str
    game_date: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "transition": self.transition,
            "game_date": self.game_date,
            "message": self.message,
            **self.details,
        }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def check_date(
    state: DateState, transition: Transition, now: dt.datetime, past_day: bool
) -> tuple[list[Finding], list[str]]:
    """The findings for one date, and notes that are not findings."""
    findings: list[Finding] = []
    notes: list[str] = []
    t = tally(state.records, transition.expected)
    where = {"transition": transition.name, "game_date": state.game_date}

    # (a) every expected processor complete, trigger not published for too long.
    triggered = state.published or bool(state.summary and state.summary.get("_triggered"))
    if state.records and t.complete and not triggered:
        counting = [
            state.records[name].get("recorded_at")
            for name in t.completed
            if state.records[name].get("recorded_at")
        ]
        last = max(counting) if counting else None
        skipped = bool(state.summary and state.summary.get("_trigger_skipped"))
        stalled_for = (now - last) if last else None
        limit = dt.timedelta(minutes=transition.stall_minutes)
        if skipped and state.claim is None:
            notes.append(
                f"{transition.name} {state.game_date}: complete via backfill messages "
                "(skip_downstream_trigger); no trigger expected"
            )
        elif stalled_for is not None and stalled_for > limit:
            summary = state.summary or {}
            findings.append(
                Finding(
                    TRIGGER_STALLED,
                    message=(
                        f"{transition.name} {state.game_date}: all {len(t.expected)} expected "
                        f"processors complete but not triggered for "
                        f"{int(stalled_for.total_seconds() // 60)} min "
                        f"(limit {transition.stall_minutes})"
                    ),
                    details={
                        "completed": list(t.completed),
                        "missing": list(t.missing),
                        "summary_completed_count": summary.get("_completed_count"),
                        "summary_missing": summary.get("_missing"),
                        "last_completion_at": _iso(last),
                        "stalled_minutes": int(stalled_for.total_seconds() // 60),
                        "claim": {k: _iso(v) for k, v in (state.claim or {}).items()},
                    },
                    **where,
                )
            )

    # (b) configuration drift.
    never_seen = sorted(set(transition.expected) - set(state.records)) if past_day else []
    summary_expected = (state.summary or {}).get("_expected")
    expected_mismatch = summary_expected is not None and sorted(summary_expected) != list(
        t.expected
    )
    if state.records and (t.unexpected or never_seen or expected_mismatch):
        parts = []
        if t.unexpected:
            parts.append(f"completions from processors not expected: {', '.join(t.unexpected)}")
        if never_seen:
            parts.append(f"expected processors never seen: {', '.join(never_seen)}")
        if expected_mismatch:
            parts.append(
                f"the orchestrator expects {sorted(summary_expected or [])}, the manifest "
                f"declares {list(t.expected)}"
            )
        findings.append(
            Finding(
                CONFIGURATION_DRIFT,
                message=f"{transition.name} {state.game_date}: " + "; ".join(parts),
                details={
                    "unexpected": list(t.unexpected),
                    "never_seen": never_seen,
                    "declared_expected": list(t.expected),
                    "orchestrator_expected": summary_expected,
                },
                **where,
            )
        )

    # (c) the summary disagrees with its own records or claim.
    diffs = stale_differences(state, transition)
    if diffs:
        findings.append(
            Finding(
                STALE_TRACKING,
                message=(
                    f"{transition.name} {state.game_date}: summary disagrees with its records: "
                    + ", ".join(f"{d.field} {d.stored!r} != {d.actual!r}" for d in diffs)
                ),
                details={"differences": [d.to_dict() for d in diffs]},
                **where,
            )
        )
    return findings, notes


@dataclass(frozen=True)
class Report:
    """The canary's answer for one run."""

    checked_at: dt.datetime
    checked: list[dict[str, str]]
    findings: list[Finding]
    notes: list[str]

    @property
    def healthy(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "checked": self.checked,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }


def dates_to_check(now: dt.datetime, timezone: str) -> tuple[str, str]:
    """Today and yesterday in ``timezone`` as YYYY-MM-DD."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today.isoformat(), (today - dt.timedelta(days=1)).isoformat()


def check_health(db: FirestoreClient, config: CanaryConfig, now: dt.datetime,
                 peek: Any = None) -> Report:
    """Check today and yesterday of every gated transition, and the dead-letter
    subscriptions when ``peek`` is given; log each finding at ERROR."""
    today, yesterday = dates_to_check(now, config.timezone)
    checked: list[dict[str, str]] = []
    findings: list[Finding] = []
    notes: list[str] = []
    for transition in config.transitions:
        for game_date, past_day in ((today, False), (yesterday, True)):
            state = read_state(db, transition, game_date)
            found, noted = check_date(state, transition, now, past_day)
            checked.append({"transition": transition.name, "game_date": game_date})
            findings.extend(found)
            notes.extend(noted)
    if peek is not None:
        findings.extend(check_dead_letters(peek, config))
    for finding in findings:
        log(
            "ERROR",
            finding.message,
            **{k: v for k, v in finding.to_dict().items() if k != "message"},
        )
    log(
        "INFO",
        "pipeline canary: healthy"
        if not findings
        else f"pipeline canary: {len(findings)} finding(s)",
        healthy=not findings,
        findings=len(findings),
        checked=checked,
    )
    return Report(checked_at=now, checked=checked, findings=findings, notes=notes)


@functions_framework.http
def check_pipeline_health(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    """Cloud Functions entry point: always 200 with the JSON report (see the module doc)."""
    config = CanaryConfig.from_env(os.environ)
    peek = None
    if config.dead_letters:
        subscriber = get_subscriber()

        def peek(path: str) -> list[dict[str, Any]]:
            return peek_dead_letters(subscriber, path)

    report = check_health(get_db(config.project), config, dt.datetime.now(dt.UTC), peek)
    body = json.dumps(report.to_dict(), default=str)
    return body, 200, {"Content-Type": "application/json"}
