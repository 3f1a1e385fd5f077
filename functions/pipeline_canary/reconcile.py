"""Reconcile completion summaries with their completion records.

    python -m functions.pipeline_canary.reconcile --start 2026-02-01 --end 2026-02-07 [--fix]

Reads ``GCP_PROJECT`` and ``GATED_TRANSITIONS`` (the canary's variables; the emulator is
used when ``FIRESTORE_EMULATOR_HOST`` is set). Prints a Markdown report of every summary
document whose count, missing/unexpected lists or trigger state disagree with the stored
completion records and trigger claim. ``--fix`` rewrites those summaries from the records
and the claim; it never publishes a trigger (a stalled trigger is the orchestrator's to
publish, on redelivery). Exit codes: 0 clean or fixed, 1 findings in report mode, 2 bad
arguments or configuration, or no Google credentials (one line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from functions._shared.cli import Parser, UsageError
from functions._shared.completion import summary_ref
from functions._shared.config import ConfigError, require_project
from functions.pipeline_canary.clients import get_db
from functions.pipeline_canary.config import Transition, load_transitions
from functions.pipeline_canary.state import (
    DateState,
    Difference,
    read_state,
    rewrite_fields,
    stale_differences,
)

if TYPE_CHECKING:
    from google.cloud.firestore import Client as FirestoreClient

MAX_DAYS = 366
USAGE = "usage: --start YYYY-MM-DD --end YYYY-MM-DD [--fix] [--transition NAME]"


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a YYYY-MM-DD date") from exc


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = Parser(
        prog="python -m functions.pipeline_canary.reconcile",
        description="Report (and with --fix rewrite) completion summaries that disagree "
        "with their completion records.",
    )
    parser.add_argument("--start", required=True, type=_date, help="first game date, YYYY-MM-DD")
    parser.add_argument("--end", required=True, type=_date, help="last game date, YYYY-MM-DD")
    parser.add_argument("--fix", action="store_true", help="rewrite the summaries found")
    parser.add_argument(
        "--transition", action="append", default=None, help="only this transition (repeatable)"
    )
    args = parser.parse_args(list(argv))
    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    if (args.end - args.start).days + 1 > MAX_DAYS:
        raise UsageError(f"the range spans more than {MAX_DAYS} days; split it")
    return args


def dates(start: dt.date, end: dt.date) -> Iterator[str]:
    day = start
    while day <= end:
        yield day.isoformat()
        day += dt.timedelta(days=1)


@dataclass(frozen=True)
class Mismatch:
    """One summary that disagrees with its records."""

    transition: Transition
    state: DateState
    differences: list[Difference]


def find_mismatches(
    db: FirestoreClient,
    transitions: Sequence[Transition],
    start: dt.date,
    end: dt.date,
) -> tuple[list[Mismatch], int]:
    """Every stale summary in the range, and how many (transition, date) pairs were read."""
    found: list[Mismatch] = []
    checked = 0
    for transition in transitions:
        for game_date in dates(start, end):
            state = read_state(db, transition, game_date)
            checked += 1
            diffs = stale_differences(state, transition)
            if diffs:
                found.append(Mismatch(transition, state, diffs))
    return found, checked


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value) or "(none)"
    elif value is None:
        text = "(none)"
    else:
        text = str(value)
    return text.replace("|", "\\|")


def render(
    mismatches: Sequence[Mismatch], checked: int, start: dt.date, end: dt.date, fixed: bool
) -> str:
    """The Markdown report."""
    lines = [f"# Completion tracking reconciliation, {start} to {end}", ""]
    if not mismatches:
        lines.append(f"All {checked} transition-dates agree with their completion records.")
        return "\n".join(lines) + "\n"
    lines += [
        "| transition | game_date | field | summary | records |",
        "|---|---|---|---|---|",
    ]
    for m in mismatches:
        for d in m.differences:
            lines.append(
                f"| {m.transition.name} | {m.state.game_date} | `{d.field}` "
                f"| {_cell(d.stored)} | {_cell(d.actual)} |"
            )
    lines.append("")
    verb = "were rewritten from their records" if fixed else "disagree with their records"
    lines.append(f"{len(mismatches)} of {checked} summaries {verb}.")
    if not fixed:
        lines.append("Run again with `--fix` to rewrite them (no trigger is published).")
    return "\n".join(lines) + "\n"


def fix(db: FirestoreClient, mismatches: Sequence[Mismatch]) -> None:
    """Rewrite each stale summary from its records and claim (merge; never publishes)."""
    for m in mismatches:
        ref = summary_ref(db, m.transition.collection, m.state.game_date)
        ref.set(rewrite_fields(m.state, m.transition), merge=True)


def run(argv: Sequence[str], db: FirestoreClient | None = None) -> int:
    """The command; returns the exit code. ``db`` defaults to the canary's lazy client."""
    try:
        args = parse_args(argv)
        project = require_project(os.environ)
        transitions = load_transitions(os.environ)
    except (UsageError, ConfigError) as exc:
        print(f"reconcile: {exc} ({USAGE})", file=sys.stderr)
        return 2
    if args.transition:
        unknown = sorted(set(args.transition) - {t.name for t in transitions})
        if unknown:
            known = ", ".join(t.name for t in transitions)
            print(f"reconcile: unknown transition {unknown}; known: {known}", file=sys.stderr)
            return 2
        transitions = tuple(t for t in transitions if t.name in args.transition)
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    try:
        client = db if db is not None else get_db(project)
        mismatches, checked = find_mismatches(client, transitions, args.start, args.end)
        if args.fix and mismatches:
            fix(client, mismatches)
    except (DefaultCredentialsError, RefreshError) as exc:
        reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"reconcile: no usable Google credentials ({reason}); run `gcloud auth "
              "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS", file=sys.stderr)
        return 2
    sys.stdout.write(render(mismatches, checked, args.start, args.end, fixed=args.fix))
    return 1 if mismatches and not args.fix else 0


def main() -> NoReturn:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
