"""What every drill shares: its options and result row, a deployed topology and the canary
run against it on a simulated clock, driving a game day, and checking the canary's findings
(``infra.local.drill_cases`` holds the drills themselves, ``infra.local.drills`` runs them)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local.demo import firestore_document
from infra.local.errors import LocalError
from infra.local.pubsub import PubSub
from infra.local.records import read_jsonl
from infra.local.runner import load_plan
from infra.local.simulator import SimulatorSpec
from infra.model.components import Transition
from infra.model.envs import EnvConfig
from infra.model.function_config import check_interval_minutes
from infra.model.manifest import Manifest

Say = Callable[[str], None]
DRILLS_FILE = "drills.json"
FALLBACK_ZONE = "Asia/Tokyo"
MIDNIGHT_MARGIN = dt.timedelta(hours=1)
WAIT_S = 30.0
"""Longest real wait for a day to settle (the compressed dead-lettering takes ~8 s)."""
SETTLE_S = 1.0
"""After the trigger, how long a second one would take to show up."""
CONCURRENT_DELIVERIES = 16


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
    def pubsub(self) -> PubSub:
        return PubSub(self.state["pubsub_emulator_host"])

    @property
    def project(self) -> str:
        return str(self.state["project"])

    def topic(self, short: str) -> str:
        return str(self.state["topics"][short])

    def own_subscription(self, topic_short: str, label: str) -> str:
        path = f"projects/{self.project}/subscriptions/drill-{label}-{uuid.uuid4().hex[:8]}"
        self.pubsub.create_subscription({"name": path, "topic": self.topic(topic_short),
                                         "ack_deadline_seconds": 60})
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
        from google.cloud import firestore

        from functions.pipeline_canary.announcements import PubSubFeed
        from functions.pipeline_canary.config import CanaryConfig
        from functions.pipeline_canary.dead_letters import peek_dead_letters

        env = {**environment, "GCP_PROJECT": deployed.project}
        if zone is not None:
            env["CANARY_TIMEZONE"] = zone
        self.config = CanaryConfig.from_env(env)
        self.db = firestore.Client(project=deployed.project)
        # The emulator's shared subscriber (``infra.local.pubsub``): the process keeps it.
        subscriber = deployed.pubsub.clients.subscriber
        self.feed = PubSubFeed(subscriber)
        self.peek: Callable[[str], list[dict[str, Any]]] = (
            lambda path: peek_dead_letters(subscriber, path))
        self.log_path = log_path
        self.runs = 0
        self._closers: list[Callable[[], Any]] = [self.db.close]

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


# --------------------------------------------------------------------------- driving a day


def _service_publishing(manifest: Manifest, topic: str) -> str:
    return next(s.key for s in manifest.services if topic in s.publishes)


def source_edge_topic(manifest: Manifest, gated: Transition) -> Transition:
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
    edge = source_edge_topic(ctx.manifest, ctx.gated)
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


def finding_kinds(report: Any) -> list[str]:
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
        earlier += [k for k in finding_kinds(report) if k not in earlier]
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
