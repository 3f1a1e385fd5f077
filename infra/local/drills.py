"""``python -m infra.local drill [NAME...]``: re-enact each outage class on the emulators.

Every drill deploys the synthesized dev stack, broken the way an incident broke production
(``infra.local.drill_stacks``; no re-synthesis), on the official emulators, drives a game
day through it as the local pipeline does, and runs the canary (``functions/pipeline_canary``,
with the served function's environment) on a simulated clock: every canary interval of its
scheduler job (15 minutes) from the day's announcements, until it reports what broke. The
canary's clock is a parameter of ``check_health``; nothing sleeps for simulated minutes.

==========================  =======================================  ====================
drill                       broken                                   detected by
==========================  =======================================  ====================
``push-invoker``            a push edge's ``run.invoker`` removed     ``dead_letters``
``trigger-invoker``         the orchestrator trigger's invoker        ``orchestrator_silent``
``orchestrator-crash``      the orchestrator raises at import         ``orchestrator_silent``
``config-drift``            deployed EXPECTED_PROCESSORS lacks one    ``configuration_drift``
``processor-never-reports`` an expected processor never runs          ``configuration_drift``
``duplicates``              duplicate and concurrent deliveries       no finding, 1 trigger
``baseline``                nothing                                   no finding
``gameless``                nothing published for the day             no finding
``backfill``                a day of backfill completions             no finding, 0 triggers
==========================  =======================================  ====================

and the classes only Cloud Monitoring sees (``infra.local.coverage``): the canary silenced,
scheduler failures, backlog age, each listed with the alert policy of the stack covering it.

Drills that break nothing share one topology (each on its own game date); every broken
stack gets its own, each in its own emulator project on the same emulators. A drill is
detected when its finding appears within the gate's stall limit (``stall_minutes``) of the
day's announcements; a drill that expects no finding fails on any. ``drills.json`` in the
work folder holds one object per row.

Dates: a drill that measures minutes runs on today's date in the canary's time zone, since
announcement times are real publish times; the others run on later dates with the canary's
clock moved by as many days (ages only grow, so their "no finding" is the stricter for it).
Within an hour of midnight in the canary's zone the drills use ``FALLBACK_ZONE``'s calendar
(the canary's configured zone is overridden in-process, and the run says so), so no drill's
simulated half hour crosses a date.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local import drill_stacks
from infra.local.coverage import Covered, coverage, region_of
from infra.local.drill_day import (
    ALL_DRILLS,
    CLEAN,
    CONCURRENT_DELIVERIES,
    DRILLS_FILE,
    FALLBACK_ZONE,
    MIDNIGHT_MARGIN,
    SETTLE_S,
    Canary,
    Context,
    Deployed,
    DrillOptions,
    Row,
    Say,
    announced,
    clean_row,
    completions,
    count_triggers,
    detected_row,
    drive_upstream_day,
    finding_kinds,
    pick_zone,
    run_grid,
    source_edge_topic,
    source_spec,
    summary,
    wait_for,
)
from infra.local.errors import LocalError
from infra.local.front import as_path
from infra.local.plan import UpOptions
from infra.local.runner import down, up
from infra.local.topology import read_topology
from infra.model.envs import get_env
from infra.model.naming import Names
from infra.model.wiring import derive
from infra.stackjson.stack import StackJson

__all__ = ["ALL_DRILLS", "FALLBACK_ZONE", "DrillOptions", "Row", "pick_zone", "run_drills", "select", "table"]


# --------------------------------------------------------------------------- the drills

Finisher = Callable[[], Row]


def _clock(ctx: Context, days: int) -> dt.datetime:
    """Now, moved ``days`` calendar days (a clean drill's date is ``today + days``)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def drill_baseline(ctx: Context) -> Finisher:
    d, game_date = ctx.topologies[CLEAN], ctx.day(2)
    triggers = d.own_subscription(ctx.gated.trigger_topic or "", "baseline")
    drive_upstream_day(ctx, d, game_date)
    wait_for(lambda: summary(ctx, d, game_date).get("_triggered"),
             f"the baseline day {game_date} to trigger")
    time.sleep(SETTLE_S)
    n = count_triggers(d, triggers, game_date)
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
    triggers = d.own_subscription(ctx.gated.trigger_topic or "", "backfill")
    drive_upstream_day(ctx, d, game_date, skip=True)
    wait_for(lambda: summary(ctx, d, game_date).get("_trigger_skipped"),
             f"the backfill day {game_date} to complete without a trigger")
    time.sleep(SETTLE_S)
    n = count_triggers(d, triggers, game_date)
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
    request = urllib.request.Request(f"{front}{as_path(identity, path)}", data=body,
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    start.wait(timeout=30)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


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
    wait_for(lambda: summary(ctx, d, game_date).get("_triggered"),
             f"the duplicated day {game_date} to trigger")
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
    wait_for(lambda: summary(ctx, d, game_date).get("_completed_count") == len(reporting),
             f"{len(reporting)} processors recorded for {game_date}")
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
    wait_for(lambda: announced(ctx, d, game_date) == set(ctx.expected),
             f"{game_date}'s {len(ctx.expected)} announcements")
    hit, minute, earlier = run_grid(
        ctx, d, t0, lambda f: f.finding == "orchestrator_silent" and f.game_date == game_date)
    recorded = summary(ctx, d, game_date)
    if recorded:
        earlier = [*earlier, f"the orchestrator recorded {recorded.get('_completed_count')}"]
    row = detected_row(ctx, name, d.broken, "orchestrator_silent", hit, minute, earlier)
    # The evidence that it broke as production did: every trigger delivery refused.
    orchestrator = _orchestrator(ctx)
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
    wait_for(lambda: len(summary(ctx, d, game_date).get("_expected") or ())
             and announced(ctx, d, game_date) == set(ctx.expected),
             f"the orchestrator's records of {game_date}")
    hit, minute, earlier = run_grid(
        ctx, d, t0, lambda f: f.finding == "configuration_drift" and f.game_date == game_date)
    row = detected_row(ctx, "config-drift", d.broken, "configuration_drift", hit, minute,
                       earlier)
    return lambda: row


def _delivery_minutes(stack: StackJson, subscription: str) -> float:
    """How long the declared retry policy of ``subscription`` takes to dead-letter a message
    the target refuses at once (the waits between its attempts)."""
    from infra.local.topology import seconds

    sub = next(s for s in stack.of_type("google_pubsub_subscription")
               if s.body.get("name") == subscription)
    retry = (sub.body.get("retry_policy") or [{}])
    retry = retry[0] if isinstance(retry, list) else retry
    policy = sub.body.get("dead_letter_policy") or [{}]
    policy = policy[0] if isinstance(policy, list) else policy
    low, high = seconds(retry.get("minimum_backoff"), 10), seconds(retry.get("maximum_backoff"), 600)
    attempts = int(policy.get("max_delivery_attempts") or 5)
    return sum(min(high, low * 2 ** k) for k in range(attempts - 1)) / 60


def drill_push_invoker(ctx: Context) -> Finisher:
    """The pushes are refused at once and dead-lettered after the declared attempts; the
    drill compresses the backoff, and counts the canary runs on the declared one."""
    d, game_date = ctx.topologies["push-invoker"], ctx.day(0)
    edge = _push_edge(ctx)
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
                wait_for(lambda: dead_lettered() >= sent,
                         f"{sent} completions of {game_date} dead-lettered on {edge.subscription}")

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


def _push_edge(ctx: Context) -> Any:
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


# --------------------------------------------------------------------------- topologies


def _orchestrator(ctx: Context) -> str:
    return Names(ctx.env).function(ctx.manifest.function(ctx.gated.function or ""))


def broken_stack(ctx: Context, name: str) -> tuple[Path, str, UpOptions]:
    """The stack of topology ``name``, what was broken, and how ``up`` must start it."""
    out = ctx.workdir / "drills" / name / "stack" / "cdk.tf.json"
    data = json.loads(ctx.stack.read_text())
    extra: dict[str, Any] = {}
    if name == CLEAN:
        broken = "nothing"
    elif name == "push-invoker":
        broken = drill_stacks.remove_push_invoker(data, _push_edge(ctx).subscription)
    elif name == "trigger-invoker":
        broken = drill_stacks.remove_trigger_invoker(data, _orchestrator(ctx))
    elif name == "orchestrator-crash":
        broken = drill_stacks.crash_at_import(data, _orchestrator(ctx), ctx.stack, out.parent)
        extra["crashing_functions"] = (_orchestrator(ctx),)
    elif name == "config-drift":
        broken = drill_stacks.drop_expected_processor(data, _orchestrator(ctx),
                                                      ctx.expected[-1])
        extra["allow_config_drift"] = True
    else:
        raise LocalError(f"no topology {name!r}")
    path = drill_stacks.write_stack(data, ctx.stack, out)
    return path, broken, UpOptions(env=ctx.env.name, stack=path,
                                   workdir=ctx.workdir / "drills" / name,
                                   manifest=ctx.manifest, project=f"drill-{name}",
                                   scheduler=False, **extra)


def bring_up(ctx: Context, names: Sequence[str], hosts: Mapping[str, str], say: Say) -> None:
    """Start the topologies ``names`` side by side on the emulators at ``hosts``."""

    def one(name: str) -> Deployed:
        path, broken, opts = broken_stack(ctx, name)
        opts = replace(opts, emulator_hosts=dict(hosts))
        lines: list[str] = []
        try:
            state = up(opts, say=lines.append)
        except LocalError as exc:
            raise LocalError(f"topology {name}: {exc}") from exc
        deployed = Deployed(name, opts.workdir.resolve(), state, broken)
        canary_fn = next(f for f in read_topology(path, ctx.env.sport, state["project"]).functions
                         if f.signature == "http")
        deployed.canary = Canary(deployed, canary_fn.environment,
                                 ctx.zone if ctx.zone_overridden else None,
                                 deployed.workdir / "logs" / "canary-drill.jsonl")
        say(f"drill: topology {name} up in project {state['project']}"
            + ("" if name == CLEAN else f": {broken}"))
        return deployed

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        futures = {name: pool.submit(one, name) for name in names}
        errors = []
        for name, future in futures.items():
            try:
                ctx.topologies[name] = future.result()
            except LocalError as exc:
                errors.append(str(exc))
        if errors:
            raise LocalError("; ".join(errors))


@contextlib.contextmanager
def emulator_environ(hosts: Mapping[str, str]) -> Iterator[None]:
    """The client libraries of this process talk to the emulators at ``hosts``."""
    wanted = {"PUBSUB_EMULATOR_HOST": hosts["pubsub"],
              "FIRESTORE_EMULATOR_HOST": hosts["firestore"]}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --------------------------------------------------------------------------- running


def select(names: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(names) - set(ALL_DRILLS))
    if unknown:
        raise LocalError(f"no drill {', '.join(unknown)}; drills: {', '.join(ALL_DRILLS)}")
    return tuple(n for n in ALL_DRILLS if not names or n in names)


def coverage_rows(ctx: Context, names: Sequence[str]) -> list[Row]:
    stack = StackJson.load(ctx.stack)
    canary = Names(ctx.env).function(next(f for f in ctx.manifest.functions
                                          if f.role == "canary"))
    rows = []
    for c in coverage(stack, canary, region_of(stack)):
        if c.drill in names:
            rows.append(_coverage_row(ctx, c))
    return rows


def _coverage_row(ctx: Context, c: Covered) -> Row:
    if c.covered:
        message = (f"alerted by Cloud Monitoring within {c.minutes:g} min of the condition"
                   if c.minutes is not None else "alerted by Cloud Monitoring on the log entry")
    else:
        message = "no alert policy of the stack watches it: this silence is not alerted"
    return Row(c.drill, c.broken, c.covered, c.by, message,
               c.minutes, ctx.stall if c.minutes is not None else None)


def run_drills(opts: DrillOptions, say: Say = print) -> list[Row]:
    """Run the drills of ``opts``; return their rows (also written to ``drills.json``)."""
    from infra.model.pipeline import load

    manifest = opts.manifest or load()
    env = get_env(opts.env)
    stack = opts.stack.resolve()
    if not stack.is_file():
        raise LocalError(f"no synthesized stack at {stack}; run `make synth` first")
    names = select(opts.names)
    now = dt.datetime.now(dt.UTC)
    zone, overridden = pick_zone(env.time_zone, now)
    ctx = Context(manifest=manifest, env=env, stack=stack, workdir=opts.workdir.resolve(),
                  zone=zone, zone_overridden=overridden,
                  today=now.astimezone(ZoneInfo(zone)).date())
    if overridden:
        say(f"drill: within {MIDNIGHT_MARGIN} of midnight in {env.time_zone}: the canary "
            f"counts days in {zone} for this run")
    wanted = sorted({DRILLS[n][0] for n in names if n in DRILLS})
    began = time.monotonic()
    rows: list[Row] = []
    with emulator_environ(opts.emulator_hosts):
        try:
            if wanted:
                say(f"drill: starting {len(wanted)} topologies from {stack} on the emulators")
                bring_up(ctx, wanted, opts.emulator_hosts, say)
            finishers: list[tuple[str, Finisher]] = []
            for name in (n for n in names if n in DRILLS):
                topology = ctx.topologies[DRILLS[name][0]]
                say(f"drill {name}: {topology.broken if topology.name != CLEAN else 'clean'}; "
                    "driving the day")
                try:
                    finishers.append((name, DRILLS[name][1](ctx)))
                except LocalError as exc:
                    failed = Row(name, topology.broken, False, "FAILED", str(exc), None, None)
                    finishers.append((name, lambda failed=failed: failed))
            for name, finish in finishers:
                try:
                    row = finish()
                except LocalError as exc:
                    row = Row(name, ctx.topologies[DRILLS[name][0]].broken, False,
                              "FAILED", str(exc), None, None)
                say(f"drill {name}: {'ok' if row.ok else 'FAILED'}: {row.by}")
                rows.append(row)
            for row in coverage_rows(ctx, names):
                say(f"drill {row.drill}: {'ok' if row.ok else 'FAILED'}: {row.by}")
                rows.append(row)
        finally:
            for deployed in ctx.topologies.values():
                if deployed.canary is not None:
                    deployed.canary.close()
                with contextlib.suppress(LocalError):
                    down(deployed.workdir, say=lambda _line: None)
    rows.sort(key=lambda r: ALL_DRILLS.index(r.drill))
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    (ctx.workdir / DRILLS_FILE).write_text(json.dumps([r.to_json() for r in rows], indent=2)
                                           + "\n")
    say(f"drill: {len(rows)} drills in {time.monotonic() - began:.1f}s; "
        f"{ctx.workdir / DRILLS_FILE}")
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Row]) -> str:
    """The drill table, Markdown."""
    lines = ["| drill | broken | detected by | message | minutes (limit) | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        minutes = "-" if r.minutes is None else f"{r.minutes:g}"
        limit = "" if r.limit is None else f" ({r.limit})"
        result = "ok" if r.ok else "FAILED"
        if r.false_alarms:
            result += f": {len(r.false_alarms)} false alarm(s): " + "; ".join(r.false_alarms[:3])
        lines.append(f"| {r.drill} | {_cell(r.broken)} | {_cell(r.by)} | {_cell(r.message)} "
                     f"| {minutes}{limit} | {_cell(result)} |")
    return "\n".join(lines)
