"""The health check: today and yesterday of every gated transition, and the dead letters.

Each run first collects what each gate's source phase announced since the last run (the
canary's own subscription, ``announcements``), then compares, per date, what was announced
with what the orchestrator recorded, and the orchestrator's records with themselves.

Each finding is one structured ERROR log line (the alert policy fires on those). Dates
completed only by backfill messages (``skip_downstream_trigger``) are not stalled: they are
listed under ``notes``. Nothing is healed here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from functions._shared.completion import (
    COMPLETED_COUNT,
    EXPECTED,
    MISSING,
    TRIGGER_SKIPPED,
    TRIGGERED,
    recorded_at,
    tally,
)
from functions._shared.logs import emit as log
from functions.pipeline_canary.announcements import (
    HISTORY_DAYS,
    Feed,
    check_silent,
    check_unreported,
    collect,
    read_announced,
)
from functions.pipeline_canary.config import CanaryConfig, Transition
from functions.pipeline_canary.dead_letters import check_dead_letters
from functions.pipeline_canary.findings import (
    CONFIGURATION_DRIFT,
    ORCHESTRATOR_SILENT,
    STALE_TRACKING,
    TRIGGER_STALLED,
    Finding,
    iso,
)
from functions.pipeline_canary.state import DateState, read_state, stale_differences

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient


def check_date(
    state: DateState, transition: Transition, now: dt.datetime, past_day: bool
) -> tuple[list[Finding], list[str]]:
    """The findings for one date, and notes that are not findings."""
    findings: list[Finding] = []
    notes: list[str] = []
    t = tally(state.records, transition.expected)
    where = {"transition": transition.name, "game_date": state.game_date}

    # (a) every expected processor complete, trigger not published for too long.
    triggered = state.published or bool(state.summary and state.summary.get(TRIGGERED))
    if state.records and t.complete and not triggered:
        counting = [
            at for name in t.completed if (at := recorded_at(state.records[name])) is not None
        ]
        last = max(counting) if counting else None
        skipped = bool(state.summary and state.summary.get(TRIGGER_SKIPPED))
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
                        "summary_completed_count": summary.get(COMPLETED_COUNT),
                        "summary_missing": summary.get(MISSING),
                        "last_completion_at": iso(last),
                        "stalled_minutes": int(stalled_for.total_seconds() // 60),
                        "claim": {k: iso(v) for k, v in (state.claim or {}).items()},
                    },
                    **where,
                )
            )

    # (b) configuration drift.
    never_seen = sorted(set(transition.expected) - set(state.records)) if past_day else []
    summary_expected = (state.summary or {}).get(EXPECTED)
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
    announcements: list[dict[str, Any]] = field(default_factory=list)
    """Per transition, what this run pulled from its announcement subscription."""

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
            "announcements": self.announcements,
        }


def dates_to_check(now: dt.datetime, timezone: str) -> tuple[str, str]:
    """Today and yesterday in ``timezone`` as YYYY-MM-DD."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today.isoformat(), (today - dt.timedelta(days=1)).isoformat()


def _collect(db: FirestoreClient, feed: Feed, config: CanaryConfig, transition: Transition,
             now: dt.datetime) -> tuple[dict[str, Any] | None, Finding | None]:
    """Collect one transition's announcements; a subscription the canary cannot read (or
    announcements it cannot record) is a finding: a blind canary is not healthy."""
    path = transition.announcements_path(config.project)
    try:
        return collect(db, feed, config, transition, now).to_dict(), None
    except Exception as exc:  # any client error leaves the orchestrator unwatched
        return None, Finding(
            ORCHESTRATOR_SILENT, transition.name, "",
            f"cannot collect the announcements of {transition.name} from {path}: {exc}; "
            "a silent orchestrator would go unreported",
            {"subscription": path, "error": str(exc)},
        )


def _with_unreported(found: list[Finding], unreported: Finding) -> list[Finding]:
    """``found`` with today's unreported processor added to the date's drift finding, or
    appended as its own when there is none."""
    for i, f in enumerate(found):
        if f.finding == CONFIGURATION_DRIFT:
            details = {**f.details, **{k: v for k, v in unreported.details.items()
                                       if k not in f.details or k == "never_seen"}}
            message = f"{f.message}; {unreported.message.split(': ', 1)[1]}"
            found[i] = dataclasses.replace(f, message=message, details=details)
            return found
    return [*found, unreported]


def check_health(db: FirestoreClient, config: CanaryConfig, now: dt.datetime,
                 peek: Any = None, feed: Feed | None = None) -> Report:
    """Check today and yesterday of every gated transition, and the dead-letter
    subscriptions when ``peek`` is given; log each finding at ERROR.

    ``feed``: where announcements are pulled from (``PubSubFeed``); without it the run
    compares only what earlier runs recorded. ``now`` is the canary's clock: every age is
    measured against it (drills advance it).
    """
    today, yesterday = dates_to_check(now, config.timezone)
    checked: list[dict[str, str]] = []
    findings: list[Finding] = []
    notes: list[str] = []
    collected: list[dict[str, Any]] = []
    day0 = dt.date.fromisoformat(today)
    history = [(day0 - dt.timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS + 1)]
    for transition in config.transitions:
        if feed is not None:
            pulled, blind = _collect(db, feed, config, transition, now)
            collected += [pulled] if pulled else []
            findings += [blind] if blind else []
        announced = read_announced(db, transition, history)
        for game_date, past_day in ((today, False), (yesterday, True)):
            state = read_state(db, transition, game_date)
            found, noted = check_date(state, transition, now, past_day)
            silent = check_silent(announced[game_date], state, transition, now)
            if silent is not None:
                found.insert(0, silent)
            if not past_day:
                unreported = check_unreported(announced[game_date], state,
                                              [announced[d] for d in history[1:]],
                                              transition, now)
                if unreported is not None:
                    found = _with_unreported(found, unreported)
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
        announcements=collected,
    )
    return Report(checked_at=now, checked=checked, findings=findings, notes=notes,
                  announcements=collected)
