"""What the upstream phase announced, read without the orchestrator, and what it tells.

The orchestrator's Firestore documents only say what the orchestrator *recorded*: when it
never runs (its trigger's invoker is gone, it crashes at import, its Eventarc trigger is
broken) it writes nothing and logs nothing. So the canary reads the gate's source topic
itself, through a pull subscription of its own (``Transition.announcements``):

``collect``   pulls up to ``PULL_MAX_MESSAGES`` announcements per run, parses each with the
              shared completion model (a malformed one is logged at WARNING with its content
              and acknowledged, never redelivered forever), records per (transition,
              game_date, processor) the first announcement times in its own Firestore
              document (``canary_announcements/{transition}_{game_date}``, merged in a
              transaction, so duplicates and concurrent runs keep the earliest time), and
              then acknowledges them. Announcement times are Pub/Sub's publish times, so a
              canary run that comes late still measures from the announcement.

``check_silent``  ORCHESTRATOR_SILENT: an expected processor announced ``success`` without
              ``skip_downstream_trigger`` more than ``silent_minutes`` ago that the
              orchestrator has no success record of. ``silent_minutes`` is the stall limit
              less one canary interval (30 - 15 = 15), so the run that reports it comes
              within the stall limit of the announcement, however the runs fall.

``check_unreported``  for *today* only: exactly one expected processor has reported nothing
              (no announcement, no record) while every other expected processor has
              (announced or recorded ``success``, backfills included), and the last of those
              is older than ``silent_minutes`` plus the processor's usual lag: over the
              previous days whose announcements name every expected processor, the longest
              it came after the last of the others (zero without such days). So a processor
              that never runs is reported within the stall limit of the last of the others;
              a gate merely waiting for a processor that normally runs later is reported only
              once it is later than usual; two or more processors missing wait for
              yesterday's check (``health``), since the gate is then still filling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from functions._shared import completion as model
from functions._shared.logs import emit as log
from functions._shared.messages import (
    Completion,
    MalformedMessage,
    content_for_log,
    decode_json,
    parse_completion,
)
from functions.pipeline_canary.config import CanaryConfig, Transition
from functions.pipeline_canary.findings import (
    CONFIGURATION_DRIFT,
    ORCHESTRATOR_SILENT,
    Finding,
    iso,
)
from functions.pipeline_canary.state import DateState

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient

PULL_MAX_MESSAGES = 500
"""At most this many announcements per transition and run; the rest wait for the next run
(Pub/Sub keeps them 7 days), so a flood delays, never hides, a finding."""
HISTORY_DAYS = 7
"""Previous days read to learn how late each processor usually reports."""

ANNOUNCED = "first_announced_at"
SUCCESS_AT = model.FIRST_SUCCESS_AT
TRIGGERING_AT = model.FIRST_TRIGGERING_AT
LAST_AT = "last_announced_at"


# --------------------------------------------------------------------------- pulling


@dataclass(frozen=True)
class Pulled:
    """One pulled message: what ``Feed.pull`` returns."""

    ack_id: str
    message_id: str
    data: bytes
    publish_time: dt.datetime


class Feed(Protocol):
    """Where announcements come from: a pull subscription (``PubSubFeed``) or a test double."""

    def pull(self, path: str, max_messages: int) -> list[Pulled]:
        """Up to ``max_messages`` messages available now (none when nothing waits)."""
        ...

    def ack(self, path: str, ack_ids: Sequence[str]) -> None:
        """Acknowledge ``ack_ids``: they are never delivered again."""
        ...


class PubSubFeed:
    """``Feed`` over a ``google.cloud.pubsub_v1.SubscriberClient``."""

    def __init__(self, subscriber: Any) -> None:
        self.subscriber = subscriber

    def pull(self, path: str, max_messages: int) -> list[Pulled]:
        response = self.subscriber.pull(
            request={"subscription": path, "max_messages": max_messages,
                     "return_immediately": True},
            timeout=30,
        )
        return [Pulled(r.ack_id, r.message.message_id, bytes(r.message.data),
                       _aware(r.message.publish_time)) for r in response.received_messages]

    def ack(self, path: str, ack_ids: Sequence[str]) -> None:
        for start in range(0, len(ack_ids), 1000):
            self.subscriber.acknowledge(
                request={"subscription": path, "ack_ids": list(ack_ids[start:start + 1000])})


def _aware(value: Any) -> dt.datetime:
    """A publish time as an aware UTC datetime (the client's may be naive UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    raise TypeError(f"publish_time {value!r} is not a datetime")


# --------------------------------------------------------------------------- recording


@dataclass
class Collected:
    """What one run pulled for one transition (returned in the canary's report)."""

    transition: str
    pulled: int = 0
    recorded: int = 0
    ignored: int = 0
    malformed: int = 0
    dates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"transition": self.transition, "pulled": self.pulled,
                "recorded": self.recorded, "ignored": self.ignored,
                "malformed": self.malformed, "game_dates": self.dates}


def entry(completion: Completion, message_id: str, at: dt.datetime) -> dict[str, Any]:
    """One announcement as the per-processor map of an announcements document."""
    success = completion.succeeded
    return {
        ANNOUNCED: at,
        LAST_AT: at,
        SUCCESS_AT: at if success else None,
        TRIGGERING_AT: at if success and not completion.skip_downstream_trigger else None,
        model.ANNOUNCEMENT_COUNT: 1,
        "phase": completion.phase,
        "last_status": completion.status,
        "message_id": message_id,
    }


def _earliest(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def merge(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Two announcement maps of one processor as one: earliest times, counts added, the
    status of the latest announcement. Order-independent, so duplicates and concurrent
    runs converge on the same document."""
    if not old:
        return dict(new)
    first_old = old.get(ANNOUNCED) is not None and (
        new.get(ANNOUNCED) is None or old[ANNOUNCED] <= new[ANNOUNCED])
    last_new = old.get(LAST_AT) is None or (
        new.get(LAST_AT) is not None and new[LAST_AT] >= old[LAST_AT])
    return {
        ANNOUNCED: _earliest(old.get(ANNOUNCED), new.get(ANNOUNCED)),
        LAST_AT: max(v for v in (old.get(LAST_AT), new.get(LAST_AT)) if v is not None),
        SUCCESS_AT: _earliest(old.get(SUCCESS_AT), new.get(SUCCESS_AT)),
        TRIGGERING_AT: _earliest(old.get(TRIGGERING_AT), new.get(TRIGGERING_AT)),
        model.ANNOUNCEMENT_COUNT: int(old.get(model.ANNOUNCEMENT_COUNT) or 0)
        + int(new.get(model.ANNOUNCEMENT_COUNT) or 0),
        "phase": old.get("phase") or new.get("phase"),
        "last_status": new.get("last_status") if last_new else old.get("last_status"),
        "message_id": old.get("message_id") if first_old else new.get("message_id"),
    }


def record(db: FirestoreClient, transition: Transition, game_date: str,
           entries: Mapping[str, Mapping[str, Any]], now: dt.datetime, ttl_days: int) -> None:
    """Merge ``entries`` (processor → announcement map) into the date's document, in a
    transaction (a concurrent run's entries are merged, never overwritten)."""
    from google.cloud import firestore

    ref = model.announcements_ref(db, transition.name, game_date)

    @firestore.transactional
    def merge_in(txn: Any) -> None:
        snap = ref.get(transaction=txn)
        current = (snap.to_dict() or {}) if snap.exists else {}
        update: dict[str, Any] = {
            name: merge(current.get(name), e) for name, e in entries.items()}
        update[model.UPDATED_AT] = now
        if not snap.exists:
            update.update({model.TRANSITION: transition.name, model.GAME_DATE: game_date,
                           model.EXPIRES_AT: now + dt.timedelta(days=ttl_days)})
        txn.set(ref, update, merge=True)

    merge_in(db.transaction())


def collect(db: FirestoreClient, feed: Feed, config: CanaryConfig, transition: Transition,
            now: dt.datetime) -> Collected:
    """Pull, parse, record, then acknowledge what the transition's source phase announced.

    A message is acknowledged only after its announcement is recorded (a failed write
    raises, and the message comes again); malformed ones, and completions of another phase
    (which the orchestrator ignores too), are logged and acknowledged.
    """
    path = transition.announcements_path(config.project)
    got: dict[str, Pulled] = {}
    while len(got) < PULL_MAX_MESSAGES:
        batch = feed.pull(path, PULL_MAX_MESSAGES - len(got))
        fresh = [m for m in batch if m.ack_id not in got]
        if not fresh:
            break
        got.update((m.ack_id, m) for m in fresh)
    out = Collected(transition.name, pulled=len(got))
    by_date: dict[str, dict[str, dict[str, Any]]] = {}
    for m in got.values():
        try:
            completion = parse_completion(decode_json(m.data), None)
        except MalformedMessage as exc:
            out.malformed += 1
            log("WARNING", f"malformed announcement acknowledged without effect: {exc.reason}",
                reason=exc.reason, content=content_for_log(exc.content),
                message_id=m.message_id, subscription=path, transition=transition.name)
            continue
        if completion.phase is not None and completion.phase != transition.source_phase:
            out.ignored += 1
            log("INFO", f"{completion.processor} announcement for phase {completion.phase} "
                f"ignored: {transition.name} gates on {transition.source_phase}",
                message_id=m.message_id, game_date=completion.game_date,
                transition=transition.name)
            continue
        out.recorded += 1
        day = by_date.setdefault(completion.game_date, {})
        day[completion.processor] = merge(day.get(completion.processor),
                                          entry(completion, m.message_id, m.publish_time))
    for game_date, entries in sorted(by_date.items()):
        record(db, transition, game_date, entries, now, config.ttl_days)
    out.dates = sorted(by_date)
    if got:
        feed.ack(path, list(got))
    return out


def read_announced(db: FirestoreClient, transition: Transition,
                   dates: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per date, the processors' announcement maps (``{}`` for a date nothing announced)."""
    wanted = list(dates)
    refs = [model.announcements_ref(db, transition.name, d) for d in wanted]
    found: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in wanted}
    by_id = {ref.id: d for ref, d in zip(refs, wanted, strict=True)}
    for snap in db.get_all(refs):
        if snap.exists:
            found[by_id[snap.id]] = {k: v for k, v in (snap.to_dict() or {}).items()
                                     if not k.startswith("_") and isinstance(v, dict)}
    return found


# --------------------------------------------------------------------------- checks


def _minutes(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() // 60)


def recorded_success(state: DateState) -> set[str]:
    """Processors the orchestrator holds a ``success`` record of."""
    return {name for name, rec in state.records.items() if rec.get(model.STATUS) == model.SUCCESS}


def check_silent(announced: Mapping[str, Mapping[str, Any]], state: DateState,
                 transition: Transition, now: dt.datetime) -> Finding | None:
    """ORCHESTRATOR_SILENT when an expected processor's triggering announcement has waited
    more than ``silent_minutes`` for the orchestrator's record (see the module doc)."""
    recorded = recorded_success(state)
    waiting = {name: e[TRIGGERING_AT] for name, e in announced.items()
               if name in transition.expected and e.get(TRIGGERING_AT) is not None
               and name not in recorded}
    if not waiting:
        return None
    oldest = min(waiting.values())
    silent_for = now - oldest
    if silent_for <= dt.timedelta(minutes=transition.silent_minutes):
        return None
    minutes = _minutes(silent_for)
    unrecorded = sorted(waiting)
    announced_names = sorted(n for n, e in announced.items()
                             if n in transition.expected and e.get(SUCCESS_AT) is not None)
    return Finding(
        ORCHESTRATOR_SILENT, transition.name, state.game_date,
        f"{transition.name} {state.game_date}: the orchestrator has not recorded "
        f"{len(unrecorded)} processor(s) announced up to {minutes} min ago (limit "
        f"{transition.silent_minutes}): {', '.join(unrecorded)}; it recorded "
        f"{len(recorded & set(transition.expected))}/{len(transition.expected)} expected. "
        "It is not running on these deliveries: its trigger's invoker, its Eventarc trigger, "
        "or its start (check its request and startup logs)",
        {"announced": announced_names, "not_recorded": unrecorded,
         "recorded": sorted(recorded & set(transition.expected)),
         "silent_minutes": minutes, "limit_minutes": transition.silent_minutes,
         "first_unrecorded_at": iso(oldest)},
    )


def reported_at(announced: Mapping[str, Mapping[str, Any]],
                state: DateState) -> dict[str, dt.datetime]:
    """Each processor that reported ``success`` (announced, backfills included, or recorded
    by the orchestrator) and the earliest time it did."""
    out: dict[str, dt.datetime] = {}
    for name, e in announced.items():
        if e.get(SUCCESS_AT) is not None:
            out[name] = e[SUCCESS_AT]
    for name, rec in state.records.items():
        at = model.recorded_at(rec)
        if rec.get(model.STATUS) == model.SUCCESS and at is not None:
            out[name] = min(out[name], at) if name in out else at
    return out


def usual_lag(processor: str, expected: Sequence[str],
              history: Iterable[Mapping[str, Mapping[str, Any]]]) -> dt.timedelta:
    """The longest time ``processor`` came after the last of the other expected processors,
    over the days of ``history`` whose announcements name every expected processor (zero
    when it never came last, or there is no such day)."""
    lag = dt.timedelta(0)
    for day in history:
        times = _success_times(day, expected)
        if times is None or processor not in times:
            continue
        others = [t for n, t in times.items() if n != processor]
        if others:
            lag = max(lag, times[processor] - max(others))
    return lag


def _success_times(day: Mapping[str, Mapping[str, Any]],
                   expected: Sequence[str]) -> dict[str, dt.datetime] | None:
    """When each of ``expected`` first announced success on ``day``; ``None`` unless every
    one of them did."""
    times: dict[str, dt.datetime] = {}
    for name in expected:
        entry = day.get(name)
        at = entry.get(SUCCESS_AT) if entry is not None else None
        if not isinstance(at, dt.datetime):
            return None
        times[name] = at
    return times


def check_unreported(announced: Mapping[str, Mapping[str, Any]], state: DateState,
                     history: Sequence[Mapping[str, Mapping[str, Any]]],
                     transition: Transition, now: dt.datetime) -> Finding | None:
    """Today's CONFIGURATION_DRIFT for an expected processor that never reported while every
    other one did (see the module doc for the rule and why it waits as it does)."""
    reported = {n: t for n, t in reported_at(announced, state).items()
                if n in transition.expected}
    missing = sorted(set(transition.expected) - set(reported))
    if len(missing) != 1 or not reported:
        return None
    (processor,) = missing
    last = max(reported.values())
    lag = usual_lag(processor, transition.expected, history)
    allowed = dt.timedelta(minutes=transition.silent_minutes) + lag
    quiet = now - last
    if quiet <= allowed:
        return None
    return Finding(
        CONFIGURATION_DRIFT, transition.name, state.game_date,
        f"{transition.name} {state.game_date}: expected processor {processor} has not "
        f"reported, {_minutes(quiet)} min after the other {len(reported)} did (allowed "
        f"{_minutes(allowed)}: {transition.silent_minutes} + its usual lag {_minutes(lag)}); "
        "the gate waits for it: is it disabled or failing upstream while the manifest still "
        "expects it?",
        {"unexpected": [], "never_seen": [processor], "declared_expected": list(
            transition.expected), "orchestrator_expected": (state.summary or {}).get(
            model.EXPECTED), "reported": sorted(reported), "quiet_minutes": _minutes(quiet),
         "allowed_minutes": _minutes(allowed), "last_reported_at": iso(last)},
    )
