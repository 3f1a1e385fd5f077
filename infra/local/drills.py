"""``python -m infra.local drill [NAME...]``: re-enact each outage class on the emulators.

Every drill (``infra.local.drill_cases``) deploys the synthesized dev stack, broken the way
an incident broke production (``infra.local.drill_stacks``; no re-synthesis), on the official
emulators, drives a game day through it as the local pipeline does, and runs the canary
(``functions/pipeline_canary``, with the served function's environment) on a simulated clock:
every canary interval of its scheduler job (15 minutes) from the day's announcements, until
it reports what broke. The canary's clock is a parameter of ``check_health``; nothing sleeps
for simulated minutes. This module brings the topologies up and runs the drills.

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

import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local import drill_stacks
from infra.local.coverage import Covered, coverage
from infra.local.drill_cases import DRILLS, Finisher, orchestrator_of, push_edge
from infra.local.drill_day import (
    DRILLS_FILE,
    FALLBACK_ZONE,
    MIDNIGHT_MARGIN,
    Canary,
    Context,
    Deployed,
    DrillOptions,
    Row,
    Say,
    pick_zone,
)
from infra.local.drill_names import ALL_DRILLS, CLEAN, select
from infra.local.errors import LocalError
from infra.local.launch import UpOptions
from infra.local.runner import down, up
from infra.local.topology import read_topology, region_of
from infra.model.envs import get_env
from infra.model.naming import Names
from infra.stackjson.stack import StackJson
from infra.wait import WaitTimeout

__all__ = ["ALL_DRILLS", "FALLBACK_ZONE", "DrillOptions", "Row", "pick_zone", "run_drills", "select",
           "table"]


# --------------------------------------------------------------------------- topologies


def broken_stack(ctx: Context, name: str) -> tuple[Path, str, UpOptions]:
    """The stack of topology ``name``, what was broken, and how ``up`` must start it."""
    out = ctx.workdir / "drills" / name / "stack" / "cdk.tf.json"
    data = json.loads(ctx.stack.read_text())
    extra: dict[str, Any] = {}
    if name == CLEAN:
        broken = "nothing"
    elif name == "push-invoker":
        broken = drill_stacks.remove_push_invoker(data, push_edge(ctx).subscription)
    elif name == "trigger-invoker":
        broken = drill_stacks.remove_trigger_invoker(data, orchestrator_of(ctx))
    elif name == "orchestrator-crash":
        broken = drill_stacks.crash_at_import(data, orchestrator_of(ctx), ctx.stack, out.parent)
        extra["crashing_functions"] = (orchestrator_of(ctx),)
    elif name == "config-drift":
        broken = drill_stacks.drop_expected_processor(data, orchestrator_of(ctx),
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


def _done(row: Row) -> Finisher:
    """The finisher of a drill that failed while driving its day: its row as it is."""
    return lambda: row


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
                except (LocalError, WaitTimeout) as exc:
                    failed = Row(name, topology.broken, False, "FAILED", str(exc), None, None)
                    finishers.append((name, _done(failed)))
            for name, finish in finishers:
                try:
                    row = finish()
                except (LocalError, WaitTimeout) as exc:
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
