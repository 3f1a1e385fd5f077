"""The drills themselves: one function per outage class the canary must catch, and
``DRILLS``, which topology each runs on (``infra.local.drills`` brings the topologies up,
runs these and tables their rows).

A drill gets the ``Context`` (``infra.local.drill_day``), drives its day on its topology, and
returns a ``Finisher``: the part that waits for the outcome and makes the row, run after every
drill has driven its day, so the days settle side by side.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.local.drill_day import (
    CONCURRENT_DELIVERIES,
    SETTLE_S,
    WAIT_S,
    Context,
    Row,
    announced,
    clean_row,
    completions,
    count_triggers,
    detected_row,
    drive_upstream_day,
    finding_kinds,
    run_grid,
    source_edge_topic,
    source_spec,
    summary,
)
from infra.local.drill_names import CLEAN
from infra.local.front import as_path
from infra.local.httpd import call
from infra.local.topology import read_topology
from infra.local.topology_types import seconds
from infra.model.naming import Names
from infra.model.wiring import PushEdge, derive
from infra.stackjson.stack import StackJson, first
from infra.wait import wait_until

Finisher = Callable[[], Row]


def _clock(ctx: Context, days: int) -> dt.datetime:
    """Now, moved ``days`` calendar days (a clean drill's date is ``today + days``)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def _triggers_once(ctx: Context, game_date: str, drill: str, flag: str, until: str,
                   skip: bool = False) -> int:
    """Drive ``game_date`` through the clean topology (backfill completions when ``skip``)
    until the orchestrator's summary of it carries ``flag``, let late messages land, and
    count the triggers published for it."""
    d = ctx.topologies[CLEAN]
    triggers = d.own_subscription(ctx.gated.trigger_topic or "", drill)
    drive_upstream_day(ctx, d, game_date, skip=skip)
    wait_until(lambda: bool(summary(ctx, d, game_date).get(flag)), timeout=WAIT_S,
               what=f"the {drill} day {game_date} {until}")
    time.sleep(SETTLE_S)
    return count_triggers(d, triggers, game_date)


def drill_baseline(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies[CLEAN], ctx.day(2)
    n = _triggers_once(ctx, game_date, "baseline", "_triggered", "to trigger")
    row = clean_row(ctx, d, "baseline", "nothing: the stack as synthesized", game_date,
                    _clock(ctx, 2), extra="1 trigger published" if n == 1 else "",
                    problem="" if n == 1 else f"{n} triggers published, 1 expected")
    return lambda: row


def drill_gameless(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies[CLEAN], ctx.day(4)
    row = clean_row(ctx, d, "gameless", "nothing: a day without games (nothing announced)",
                    game_date, _clock(ctx, 4))
    return lambda: row


def drill_backfill(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies[CLEAN], ctx.day(6)
    n = _triggers_once(ctx, game_date, "backfill", "_trigger_skipped",
                       "to complete without a trigger", skip=True)
    row = clean_row(ctx, d, "backfill", "nothing: a day of backfill completions "
                    "(skip_downstream_trigger)", game_date, _clock(ctx, 6),
                    extra="complete, no trigger published" if n == 0 else "",
                    problem="" if n == 0 else f"{n} triggers published for a backfill")
    return lambda: row


def _deliver(front: str, identity: str, path: str, project: str, message: dict[str, Any],
             message_id: str, start: threading.Barrier) -> int:
    body = json.dumps({"message": {
        "data": base64.b64encode(json.dumps(message).encode()).decode(),
        "messageId": message_id, "attributes": {},
        "publishTime": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")},
        "subscription": f"projects/{project}/subscriptions/drill-concurrent"}).encode()
    start.wait(timeout=30)
    return call(f"{front}{as_path(identity, path)}", timeout=60, method="POST", data=body,
                headers={"Content-Type": "application/json"})[0]


def drill_duplicates(ctx: Context) -> Finisher:
    """Each completion published three times, and the same completions delivered
    concurrently (``CONCURRENT_DELIVERIES`` at once) to the orchestrator through its front
    under its trigger identity, as Eventarc redelivers them."""
    d, game_date = ctx.topologies[CLEAN], ctx.day(8)
    triggers = d.own_subscription(ctx.gated.trigger_topic or "", "duplicates")
    messages = completions(source_spec(ctx, d), game_date)
    d.pubsub.publish_json(d.topic(ctx.gated.topic), messages * 3)
    topology = read_topology(Path(d.state["stack"]), ctx.env.sport, d.project)
    orchestrator = next(f for f in topology.functions if f.trigger_topic == ctx.gated.topic)
    path = f"/{topology.topic_path(ctx.gated.topic)}"
    front = d.state["fronts"][orchestrator.name]
    start = threading.Barrier(CONCURRENT_DELIVERIES)
    jobs = [(messages[i % len(messages)], f"drill-{game_date}-{i % len(messages)}")
            for i in range(CONCURRENT_DELIVERIES)]
    with ThreadPoolExecutor(max_workers=CONCURRENT_DELIVERIES) as pool:
        codes = list(pool.map(lambda j: _deliver(front, str(orchestrator.trigger_identity),
                                                 path, d.project, j[0], j[1], start), jobs))
    wait_until(lambda: bool(summary(ctx, d, game_date).get("_triggered")), timeout=WAIT_S,
               what=f"the duplicated day {game_date} to trigger")
    time.sleep(SETTLE_S)
    n = count_triggers(d, triggers, game_date)
    s = summary(ctx, d, game_date)
    problems = []
    if n != 1:
        problems.append(f"{n} triggers published, exactly 1 expected")
    if s.get("_completed_count") != len(ctx.expected):
        problems.append(f"_completed_count {s.get('_completed_count')} != {len(ctx.expected)}")
    if set(codes) - {200, 204}:
        problems.append(f"concurrent deliveries answered {sorted(set(codes))}")
    row = clean_row(ctx, d, "duplicates", f"nothing: each completion published 3 times and "
                    f"{CONCURRENT_DELIVERIES} concurrent deliveries", game_date, _clock(ctx, 8),
                    extra=f"exactly {n} trigger, _completed_count "
                    f"{s.get('_completed_count')}/{len(ctx.expected)}",
                    problem="; ".join(problems))
    return lambda: row


def drill_processor_never_reports(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies[CLEAN], ctx.day(0)
    silent = ctx.expected[-1]
    reporting = [p for p in ctx.expected if p != silent]
    t0 = dt.datetime.now(dt.UTC)
    d.pubsub.publish_json(d.topic(ctx.gated.topic),
                          completions(source_spec(ctx, d), game_date, reporting))
    wait_until(lambda: summary(ctx, d, game_date).get("_completed_count") == len(reporting),
               timeout=WAIT_S, what=f"{len(reporting)} processors recorded for {game_date}")
    hit, minute, earlier = run_grid(
        ctx, d, t0, lambda f: f.finding == "configuration_drift" and f.game_date == game_date
        and silent in (f.details.get("never_seen") or []))
    row = detected_row(ctx, "processor-never-reports", f"{silent} never runs (disabled "
                       "upstream) while the manifest expects it", "configuration_drift", hit,
                       minute, earlier)
    return lambda: row


def _silent_orchestrator(ctx: Context, name: str) -> Finisher:
    d, game_date = ctx.topologies[name], ctx.day(0)
    t0 = dt.datetime.now(dt.UTC)
    drive_upstream_day(ctx, d, game_date)
    wait_until(lambda: announced(ctx, d, game_date) == set(ctx.expected), timeout=WAIT_S,
               what=f"{game_date}'s {len(ctx.expected)} announcements")
    hit, minute, earlier = run_grid(
        ctx, d, t0, lambda f: f.finding == "orchestrator_silent" and f.game_date == game_date)
    recorded = summary(ctx, d, game_date)
    if recorded:
        earlier = [*earlier, f"the orchestrator recorded {recorded.get('_completed_count')}"]
    row = detected_row(ctx, name, d.broken, "orchestrator_silent", hit, minute, earlier)
    # The evidence that it broke as production did: every trigger delivery refused.
    orchestrator = orchestrator_of(ctx)
    answers = Counter(int(r.get("status", 0)) for r in d.fronts()
                      if r.get("target") == orchestrator and r.get("game_date") == game_date)
    shown = ", ".join(f"{code} x{n}" for code, n in sorted(answers.items()))
    row = replace(row, message=f"{row.message} [its front answered {shown or 'nothing'}]")
    if not answers or set(answers) & {200, 204}:
        row = replace(row, detected=False, by="FAILED: the break did not hold",
                      message=f"the orchestrator's front answered {shown or 'nothing'}, not "
                      "refusals only")
    return lambda: row


def drill_trigger_invoker(ctx: Context) -> Finisher:
    return _silent_orchestrator(ctx, "trigger-invoker")


def drill_orchestrator_crash(ctx: Context) -> Finisher:
    return _silent_orchestrator(ctx, "orchestrator-crash")


def drill_config_drift(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies["config-drift"], ctx.day(0)
    t0 = dt.datetime.now(dt.UTC)
    drive_upstream_day(ctx, d, game_date)
    wait_until(lambda: bool(summary(ctx, d, game_date).get("_expected"))
               and announced(ctx, d, game_date) == set(ctx.expected), timeout=WAIT_S,
               what=f"the orchestrator's records of {game_date}")
    hit, minute, earlier = run_grid(
        ctx, d, t0, lambda f: f.finding == "configuration_drift" and f.game_date == game_date)
    row = detected_row(ctx, "config-drift", d.broken, "configuration_drift", hit, minute,
                       earlier)
    return lambda: row


def _delivery_minutes(stack: StackJson, subscription: str) -> float:
    """How long the declared retry policy of ``subscription`` takes to dead-letter a message
    the target refuses at once (the waits between its attempts)."""
    sub = next(s for s in stack.of_type("google_pubsub_subscription")
               if s.body.get("name") == subscription)
    retry, policy = first(sub.body.get("retry_policy")), first(sub.body.get("dead_letter_policy"))
    low, high = seconds(retry.get("minimum_backoff"), 10), seconds(retry.get("maximum_backoff"), 600)
    attempts = int(policy.get("max_delivery_attempts") or 5)
    return sum(min(high, low * 2.0 ** k) for k in range(attempts - 1)) / 60


def drill_push_invoker(ctx: Context) -> Finisher:
    """The pushes are refused at once and dead-lettered after the declared attempts; the
    drill compresses the backoff, and counts the canary runs on the declared one."""
    d, game_date = ctx.topologies["push-invoker"], ctx.day(0)
    edge = push_edge(ctx)
    production = _delivery_minutes(StackJson.load(ctx.stack), edge.subscription)
    t0 = dt.datetime.now(dt.UTC)
    drive_upstream_day(ctx, d, game_date)
    sent = len(ctx.manifest.enabled_processors(edge_source_phase(ctx)))
    assert d.canary is not None
    first_run = d.canary.run(t0)  # before any message could be dead-lettered
    early = finding_kinds(first_run)

    def dead_lettered() -> int:
        return sum(1 for r in d.fronts() if r.get("game_date") == game_date
                   and str(r.get("delivery", "")).startswith("dead-lettered"))

    def finish() -> Row:
        def catch_up(minute: int) -> None:
            if minute >= production:
                wait_until(lambda: dead_lettered() >= sent, timeout=WAIT_S,
                           what=f"{sent} completions of {game_date} dead-lettered on "
                           f"{edge.subscription}")

        steps = [m for m in ctx.grid() if m > 0]
        hit, minute, earlier = run_grid(
            ctx, d, t0, lambda f: f.finding == "dead_letters" and f.transition == edge.key
            and game_date in (f.details.get("game_dates") or []), catch_up, steps)
        row = detected_row(ctx, "push-invoker", d.broken, "dead_letters", hit, minute,
                           [*early, *earlier])
        return Row(row.drill, row.broken, row.detected, row.by,
                   f"{row.message} (declared backoff dead-letters after {production:g} min)",
                   row.minutes, row.limit, row.false_alarms)

    return finish


def push_edge(ctx: Context) -> PushEdge:
    """The push edge into the gate's source phase (Phase 2 → 3), from the wiring."""
    transition = source_edge_topic(ctx.manifest, ctx.gated)
    return next(e for e in derive(ctx.manifest, ctx.env).edges if e.key == transition.key)


def edge_source_phase(ctx: Context) -> int:
    return source_edge_topic(ctx.manifest, ctx.gated).source


DRILLS: dict[str, tuple[str, Callable[[Context], Finisher]]] = {
    "push-invoker": ("push-invoker", drill_push_invoker),
    "trigger-invoker": ("trigger-invoker", drill_trigger_invoker),
    "orchestrator-crash": ("orchestrator-crash", drill_orchestrator_crash),
    "config-drift": ("config-drift", drill_config_drift),
    "processor-never-reports": (CLEAN, drill_processor_never_reports),
    "duplicates": (CLEAN, drill_duplicates),
    "baseline": (CLEAN, drill_baseline),
    "gameless": (CLEAN, drill_gameless),
    "backfill": (CLEAN, drill_backfill),
}


def orchestrator_of(ctx: Context) -> str:
    """The cloud name of the gated transition's function (the orchestrator)."""
    return Names(ctx.env).function(ctx.manifest.function(ctx.gated.function or ""))
