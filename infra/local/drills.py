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
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local import drill_stacks
from infra.local.coverage import Covered, coverage, region_of
from infra.local.demo import firestore_document
from infra.local.errors import LocalError
from infra.local.front import as_path
from infra.local.plan import UpOptions
from infra.local.pubsub_rest import PubSubRest
from infra.local.records import read_jsonl
from infra.local.runner import down, load_plan, up
from infra.local.simulator import SimulatorSpec
from infra.local.topology import read_topology
from infra.model.envs import EnvConfig, get_env
from infra.model.function_config import check_interval_minutes
from infra.model.manifest import Manifest, Transition
from infra.model.naming import Names
from infra.model.wiring import derive
from infra.stackjson.stack import StackJson

Say = Callable[[str], None]
DRILLS_FILE = "drills.json"
FALLBACK_ZONE = "Asia/Tokyo"
MIDNIGHT_MARGIN = dt.timedelta(hours=1)
WAIT_S = 30.0
"""Longest real wait for a day to settle (the compressed dead-lettering takes ~8 s)."""
SETTLE_S = 1.0
"""After the trigger, how long a second one would take to show up."""
CONCURRENT_DELIVERIES = 16

CLEAN = "clean"
CANARY_DRILLS = ("push-invoker", "trigger-invoker", "orchestrator-crash", "config-drift",
                 "processor-never-reports", "duplicates", "baseline", "gameless", "backfill")
MONITORING_DRILLS = ("canary-silenced", "scheduler-failures", "backlog-age")
ALL_DRILLS = CANARY_DRILLS + MONITORING_DRILLS


@dataclass(frozen=True)
class Row:
    """One drill's outcome, as printed and as written to ``drills.json``.

    ``detected``: the drill's expected outcome was observed (its finding within the limit,
    or no finding at all on a day where nothing broke, or a covering alert policy).
    """

    drill: str
    broken: str
    detected: bool
    by: str
    message: str
    minutes: float | None
    limit: int | None
    false_alarms: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        late = self.minutes is not None and self.limit is not None and self.minutes > self.limit
        return self.detected and not late and not self.false_alarms

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "false_alarms": list(self.false_alarms), "ok": self.ok}


@dataclass(frozen=True)
class DrillOptions:
    """``stack``: the synthesized dev stack; ``emulator_hosts``: running emulators (``pubsub``,
    ``firestore`` → ``host:port``); ``names``: drills to run (default all)."""

    stack: Path
    workdir: Path
    emulator_hosts: Mapping[str, str]
    env: str = "dev"
    names: tuple[str, ...] = ()
    manifest: Manifest | None = None


# --------------------------------------------------------------------------- a topology


@dataclass
class Deployed:
    """One (broken or clean) stack running on the emulators, and the in-process canary."""

    name: str
    workdir: Path
    state: dict[str, Any]
    broken: str
    canary: Canary | None = None

    @property
    def pubsub(self) -> PubSubRest:
        return PubSubRest(self.state["pubsub_emulator_host"])

    @property
    def project(self) -> str:
        return str(self.state["project"])

    def topic(self, short: str) -> str:
        return str(self.state["topics"][short])

    def own_subscription(self, topic_short: str, label: str) -> str:
        path = f"projects/{self.project}/subscriptions/drill-{label}-{uuid.uuid4().hex[:8]}"
        self.pubsub.create_subscription(path, {"topic": self.topic(topic_short),
                                               "ackDeadlineSeconds": 60})
        return path

    def document(self, path: str) -> dict[str, Any] | None:
        return firestore_document(self.state, path)

    def simulator(self, key: str) -> SimulatorSpec:
        for s in load_plan(self.workdir)["simulators"]:
            if s["spec"]["key"] == key:
                return SimulatorSpec.from_json(s["spec"])
        raise LocalError(f"topology {self.name}: no simulator for service {key!r}")

    def published(self, service_key: str, game_date: str) -> Counter[str]:
        """How many completions of each processor ``service_key``'s simulator published."""
        counts: Counter[str] = Counter()
        for r in read_jsonl(Path(self.state["records"]) / f"{service_key}.jsonl"):
            if r.get("game_date") == game_date:
                counts.update(p["processor_name"] for p in r.get("published") or [])
        return counts

    def fronts(self) -> list[dict[str, Any]]:
        return list(read_jsonl(Path(self.state["fronts_log"])))


class Canary:
    """The canary function in-process, with the served function's environment and clients on
    the emulators; ``run(now)`` is one scheduled run at the simulated time ``now``."""

    def __init__(self, deployed: Deployed, environment: Mapping[str, str], zone: str | None,
                 log_path: Path) -> None:
        from google.cloud import firestore, pubsub_v1

        from functions.pipeline_canary.announcements import PubSubFeed
        from functions.pipeline_canary.config import CanaryConfig
        from functions.pipeline_canary.dead_letters import peek_dead_letters

        env = {**environment, "GCP_PROJECT": deployed.project}
        if zone is not None:
            env["CANARY_TIMEZONE"] = zone
        self.config = CanaryConfig.from_env(env)
        self.db = firestore.Client(project=deployed.project)
        subscriber = pubsub_v1.SubscriberClient()
        self.feed = PubSubFeed(subscriber)
        self.peek: Callable[[str], list[dict[str, Any]]] = (
            lambda path: peek_dead_letters(subscriber, path))
        self.log_path = log_path
        self.runs = 0
        self._closers: list[Callable[[], Any]] = [self.db.close, subscriber.close]

    def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                close()

    def run(self, now: dt.datetime) -> Any:
        """One canary run at ``now``; its structured log lines go to ``log_path``."""
        from functions.pipeline_canary.health import check_health

        self.runs += 1
        with self.log_path.open("a") as log, contextlib.redirect_stdout(log):
            return check_health(self.db, self.config, now, self.peek, self.feed)


# --------------------------------------------------------------------------- the context


@dataclass
class Context:
    """What every drill reads: the manifest, the stack, the clock and the topologies."""

    manifest: Manifest
    env: EnvConfig
    stack: Path
    workdir: Path
    zone: str
    zone_overridden: bool
    today: dt.date
    topologies: dict[str, Deployed] = field(default_factory=dict)

    @property
    def gated(self) -> Transition:
        return self.manifest.gated()[0]

    @property
    def stall(self) -> int:
        return self.gated.stall_minutes

    @property
    def interval(self) -> int:
        fn = next(f for f in self.manifest.functions if f.role == "canary")
        return check_interval_minutes(self.manifest, fn) or self.stall

    @property
    def expected(self) -> tuple[str, ...]:
        return self.manifest.enabled_processors(self.gated.source)

    def day(self, offset: int) -> str:
        return (self.today + dt.timedelta(days=offset)).isoformat()

    def grid(self) -> list[int]:
        """The simulated canary runs, in minutes after the day's announcements: every
        interval up to one interval past the stall limit (a late finding shows as late)."""
        return list(range(0, self.stall + self.interval + 1, self.interval))


def pick_zone(configured: str, now: dt.datetime) -> tuple[str, bool]:
    """The canary's zone, unless it is within ``MIDNIGHT_MARGIN`` of midnight there."""
    local = now.astimezone(ZoneInfo(configured))
    midnight = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if local - local.replace(hour=0, minute=0, second=0, microsecond=0) < MIDNIGHT_MARGIN \
            or midnight - local < MIDNIGHT_MARGIN:
        return FALLBACK_ZONE, True
    return configured, False


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy; ``LocalError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LocalError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


# --------------------------------------------------------------------------- driving a day


def _service_publishing(manifest: Manifest, topic: str) -> str:
    return next(s.key for s in manifest.services if topic in s.publishes)


def _source_edge_topic(manifest: Manifest, gated: Transition) -> Transition:
    """The direct transition into the gated transition's source phase (Phase 2 → 3)."""
    return next(t for t in manifest.transitions
                if t.kind == "direct" and t.target == gated.source)


def completions(spec: SimulatorSpec, game_date: str, processors: Sequence[str] | None = None,
                skip: bool = False) -> list[dict[str, Any]]:
    """The completion messages ``spec``'s processors publish for ``game_date`` (DOMAIN.md)."""
    correlation = f"drill-{uuid.uuid4().hex[:10]}"
    chosen = [p for p in spec.processors if processors is None or p.name in processors]
    out = []
    for p in chosen:
        message: dict[str, Any] = {
            "processor_name": p.name, "phase": spec.phase_id, "execution_id": str(uuid.uuid4()),
            "correlation_id": correlation, "game_date": game_date,
            "output_table": p.output_table, "output_dataset": spec.dataset,
            "status": "success", "record_count": 42,
            "timestamp": dt.datetime.now(dt.UTC).isoformat()}
        if skip:
            message["skip_downstream_trigger"] = True
        out.append(message)
    return out


def drive_upstream_day(ctx: Context, d: Deployed, game_date: str, skip: bool = False) -> None:
    """Publish the day's completions of the phase before the gate's source (Phase 2), as its
    service would: the push edge carries them to the source phase, which announces its own."""
    edge = _source_edge_topic(ctx.manifest, ctx.gated)
    spec = d.simulator(_service_publishing(ctx.manifest, edge.topic))
    d.pubsub.publish_json(d.topic(edge.topic), completions(spec, game_date, skip=skip))


def source_spec(ctx: Context, d: Deployed) -> SimulatorSpec:
    return d.simulator(_service_publishing(ctx.manifest, ctx.gated.topic))


def announced(ctx: Context, d: Deployed, game_date: str) -> set[str]:
    """The expected processors the source phase's simulator announced for ``game_date``."""
    key = _service_publishing(ctx.manifest, ctx.gated.topic)
    return set(d.published(key, game_date)) & set(ctx.expected)


def summary(ctx: Context, d: Deployed, game_date: str) -> dict[str, Any]:
    return d.document(f"{ctx.gated.completion_collection}/{game_date}") or {}


def count_triggers(d: Deployed, subscription: str, game_date: str) -> int:
    got = d.pubsub.drain(subscription)
    return sum(1 for m in got
               if (isinstance(m.data, dict) and m.data.get("game_date") == game_date)
               or m.attributes.get("game_date") == game_date)


# --------------------------------------------------------------------------- checking


def _kinds(report: Any) -> list[str]:
    return [f"{f.finding} {f.game_date or ''}".strip() for f in report.findings]


def run_grid(ctx: Context, d: Deployed, t0: dt.datetime, match: Callable[[Any], Any],
             before: Callable[[int], None] | None = None,
             steps: Sequence[int] | None = None) -> tuple[Any, int | None, list[str]]:
    """Run the canary at each simulated minute of the grid after ``t0`` until ``match``
    accepts a finding; return (the finding, its minute, findings seen before it)."""
    assert d.canary is not None
    earlier: list[str] = []
    for minute in steps if steps is not None else ctx.grid():
        if before is not None:
            before(minute)
        report = d.canary.run(t0 + dt.timedelta(minutes=minute))
        hit = next((f for f in report.findings if match(f)), None)
        if hit is not None:
            return hit, minute, earlier
        earlier += [k for k in _kinds(report) if k not in earlier]
    return None, None, earlier


def detected_row(ctx: Context, name: str, broken: str, kind: str, hit: Any, minute: int | None,
                 earlier: Sequence[str], limit: int | None = None) -> Row:
    limit = ctx.stall if limit is None else limit
    if hit is None:
        return Row(name, broken, False, f"NOT DETECTED (no {kind})",
                   f"no {kind} finding within {ctx.grid()[-1]} simulated min"
                   + (f"; saw {', '.join(earlier)}" if earlier else ""), None, limit)
    return Row(name, broken, True, f"canary {hit.finding}", hit.message, float(minute or 0),
               limit, tuple(earlier))


def clean_row(ctx: Context, d: Deployed, name: str, broken: str, game_date: str,
              t0: dt.datetime, extra: str = "", problem: str = "") -> Row:
    """Run the canary over the grid and the next day; any finding is a false alarm."""
    assert d.canary is not None
    alarms: list[str] = []
    steps = [*ctx.grid(), 24 * 60]
    for minute in steps:
        report = d.canary.run(t0 + dt.timedelta(minutes=minute))
        alarms += [f"+{minute} min: {f.finding} {f.game_date}: {f.message}"
                   for f in report.findings]
    runs = ", ".join(f"+{m}" for m in steps[:-1])
    message = (f"{game_date}: no finding in {len(steps)} canary runs ({runs} min and the next "
               f"day){'; ' + extra if extra else ''}")
    if problem:
        return Row(name, broken, False, "FAILED", f"{game_date}: {problem}", None, None,
                   tuple(alarms))
    if alarms:
        return Row(name, broken, False, "FALSE ALARM", f"{game_date}: {len(alarms)} "
                   f"finding(s) where nothing broke, over {len(steps)} canary runs", None, None,
                   tuple(alarms))
    return Row(name, broken, True, "no finding (as it must)", message, None, None)


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
    early = _kinds(first_run)

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
    transition = _source_edge_topic(ctx.manifest, ctx.gated)
    return next(e for e in derive(ctx.manifest, ctx.env).edges if e.key == transition.key)


def edge_source_phase(ctx: Context) -> int:
    return _source_edge_topic(ctx.manifest, ctx.gated).source


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
