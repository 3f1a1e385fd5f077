"""The pipeline as typed, frozen data, and the validation that runs when it is loaded.

Everything else (the stacks, the orchestrator's expected-processor set, the emulator
topology, the README table and the diagram) is derived from one ``Manifest`` value; nothing
restates it. ``Manifest.validate()`` raises ``ManifestError`` naming the field, the bad value
and what is allowed: every name and value is checked against what Google accepts
(``infra.model.limits``, each rule citing its documentation), and the wiring against the drift
Google would accept but the pipeline would not survive (trigger map, canary cadence).

Names here are *keys*: the cloud name of a topic is ``<sport>-<key>``, of a service
``<sport>-<key>`` unless ``cloud_name`` overrides it, so one manifest serves every sport.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from infra.model import limits
from infra.model.components import (
    AlertPolicy,
    Bucket,
    Dataset,
    Function,
    ManifestError,
    Phase,
    Processor,
    ScheduledJob,
    Service,
    Table,
    Topic,
    Transition,
    invalid_value,
)
from infra.model.item_checks import (
    check_alert,
    check_bucket,
    check_dataset,
    check_each,
    check_function,
    check_job,
    check_phase,
    check_processor,
    check_service,
    check_table,
    check_topic,
    check_transition,
)


@dataclass(frozen=True)
class Manifest:
    """The whole pipeline. Build it, then call ``validate()`` (``load()`` does both)."""

    phases: tuple[Phase, ...]
    """Unique ``number`` and ``id``; ``KNOWN_PHASES`` lists the ids in this order."""
    processors: tuple[Processor, ...]
    """Every declared processor, disabled ones too; the expected sets take the enabled,
    gated ones (``enabled_processors``)."""
    services: tuple[Service, ...]
    """Keys unique among services and functions together; the README and the wiring list them
    in this order (likewise ``functions``)."""
    functions: tuple[Function, ...]
    topics: tuple[Topic, ...]
    """Each needs a consumer: a direct transition's topic, a gated one's trigger topic or a
    function's trigger topic."""
    transitions: tuple[Transition, ...]
    """One push edge each (``infra.model.wiring.Wiring.edges``); subscription keys unique."""
    jobs: tuple[ScheduledJob, ...]
    datasets: tuple[Dataset, ...]
    """What phases, services and tables name by key (``reads``, ``writes``, ``Table.dataset``)."""
    tables: tuple[Table, ...]
    """Each in a declared dataset, whose construct creates it."""
    alerts: tuple[AlertPolicy, ...]
    """At most one per service or function."""
    trigger_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Phase 2 ``output_table`` → the Phase 3 processors it triggers."""
    removed: tuple[str, ...] = ()
    """Names of components and topics that were removed and must never come back."""
    completion_ttl_days: int = 7
    """Days a completion document lives: its ``_expires_at`` is its creation plus this, and the
    stack's Firestore TTL policy deletes it then (functions get it as ``COMPLETION_TTL_DAYS``)."""
    buckets: tuple[Bucket, ...] = ()
    """What services name in ``reads_buckets`` and ``writes_buckets``; none: no data bucket."""

    # ----- derived views (the only way the rest of the repo reads the manifest) -----

    def phase(self, number: int) -> Phase:
        for p in self.phases:
            if p.number == number:
                return p
        raise KeyError(f"phase {number} is not declared")

    def enabled_processors(self, phase: int) -> tuple[str, ...]:
        """Sorted names of the enabled, gated processors of ``phase``: every expected set."""
        return tuple(sorted(p.name for p in self.processors
                            if p.phase == phase and p.enabled and p.gated))

    def output_tables(self, phase: int) -> dict[str, str]:
        """Every table the processors of ``phase`` declare → the processor that writes it."""
        return {t: p.name for p in self.processors if p.phase == phase for t in p.tables}

    def service(self, key: str) -> Service:
        """The declared service ``key``; ``KeyError`` naming the declared keys otherwise."""
        return _declared("service", self.services, key)

    def function(self, key: str) -> Function:
        """The declared function ``key``; ``KeyError`` naming the declared keys otherwise."""
        return _declared("function", self.functions, key)

    def component_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.services) + tuple(f.key for f in self.functions)

    def gated(self) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.kind == "gated")

    def with_processor_enabled(self, name: str, enabled: bool) -> Manifest:
        """A copy with one processor switched on or off (validated): the one edit a user
        makes; the active trigger map follows (``active_trigger_map``)."""
        if name not in {p.name for p in self.processors}:
            raise invalid_value("processors", name, f"declared: {sorted(p.name for p in self.processors)}")
        procs = tuple(replace(p, enabled=enabled) if p.name == name else p for p in self.processors)
        return replace(self, processors=procs).validate()

    def active_trigger_map(self) -> Mapping[str, tuple[str, ...]]:
        """The trigger map as it runs: entries keyed by a disabled Phase 2 processor's table
        never fire and are dropped, disabled Phase 3 processors are dropped from the targets,
        and an entry left without a target goes. Disabling a processor is one edit."""
        by_name = {p.name: p for p in self.processors}
        writers = self.output_tables(2)
        out: dict[str, tuple[str, ...]] = {}
        for table, procs in self.trigger_map.items():
            writer = by_name.get(writers.get(table, ""))
            if writer is None or not writer.enabled:
                continue
            kept = tuple(n for n in procs if n in by_name and by_name[n].enabled)
            if kept:
                out[table] = kept
        return out

    # ----- validation -----

    def validate(self) -> Manifest:
        """Raise ``ManifestError`` on the first rule broken; return ``self`` when valid.

        Three passes, so that a message names the field that was changed, not another item
        that refers to it: each item's own fields (``infra.model.item_checks``: every name and
        value against what Google accepts, ``infra.model.limits``), then duplicate declarations,
        then the references between items and the wiring (trigger map, canary cadence).
        """
        self._validate_items()
        self._validate_unique()
        self._validate_references()
        return self

    # --- pass 1: each item's own fields (infra.model.item_checks) ---

    def _validate_items(self) -> None:
        removed = self.removed
        check_each("phases", self.phases, check_phase)
        check_each("processors", self.processors, check_processor)
        check_each("topics", self.topics, lambda where, t: check_topic(where, t, removed))
        check_each("services", self.services, lambda where, s: check_service(where, s, removed))
        check_each("functions", self.functions,
                   lambda where, f: check_function(where, f, removed))
        check_each("transitions", self.transitions, check_transition)
        check_each("jobs", self.jobs, check_job)
        check_each("datasets", self.datasets, check_dataset)
        check_each("tables", self.tables, check_table)
        check_each("buckets", self.buckets, check_bucket)
        check_each("alerts", self.alerts, check_alert)
        if self.completion_ttl_days < 1:
            raise invalid_value("completion_ttl_days", self.completion_ttl_days, "at least 1")

    # --- pass 2: duplicate declarations ---

    def _validate_unique(self) -> None:
        _unique("phases[].number", [p.number for p in self.phases])
        _unique("phases[].id", [p.id for p in self.phases])
        _unique("processors[].name", [p.name for p in self.processors])
        for phase in sorted({p.phase for p in self.processors}):
            _unique(f"output tables of phase {phase} processors (processors[].output_tables)",
                    [t for p in self.processors if p.phase == phase for t in p.tables])
        _unique("topics[].key", [t.key for t in self.topics])
        _unique("component keys (services[].key + functions[].key)", self.component_keys())
        _unique("identity shorts (services, functions, jobs)",
                [s.short for s in self.services] + [f.short for f in self.functions]
                + [j.short for j in self.jobs])
        for i, s in enumerate(self.services):
            for name in ("routes", "publishes", "invokes", "reads", "writes", "reads_buckets",
                         "writes_buckets"):
                _unique(f"services[{i}].{name}", list(getattr(s, name)))
        for i, f in enumerate(self.functions):
            _unique(f"functions[{i}].publishes", list(f.publishes))
        _unique("transitions[].key", [t.key for t in self.transitions])
        _unique("transitions[].subscription", [t.subscription for t in self.transitions])
        _unique("jobs[].key", [j.key for j in self.jobs])
        _unique("datasets[].key", [d.key for d in self.datasets])
        _unique("tables[] (dataset.name)", [f"{t.dataset}.{t.name}" for t in self.tables])
        _unique("buckets[].key", [b.key for b in self.buckets])
        _unique("alerts[].component", [a.component for a in self.alerts])
        _unique("alerts[].display_name", [a.display_name for a in self.alerts if a.display_name])
        _unique("removed", list(self.removed))
        for table, procs in self.trigger_map.items():
            _unique(f"trigger_map[{table!r}]", list(procs))

    # --- pass 3: references and wiring ---

    def _validate_references(self) -> None:
        keys = _Declared.of(self)
        for i, proc in enumerate(self.processors):
            if proc.phase not in keys.phases:
                raise invalid_value(f"processors[{i}].phase", proc.phase, f"declared: {sorted(keys.phases)}")
        for i, s in enumerate(self.services):
            self._validate_service_refs(f"services[{i}]", s, keys)
        for i, f in enumerate(self.functions):
            _validate_function_refs(f"functions[{i}]", f, keys)
        for i, t in enumerate(self.transitions):
            self._validate_transition(f"transitions[{i}]", t, keys)
        for i, j in enumerate(self.jobs):
            self._validate_job_target(f"jobs[{i}]", j, keys)
        self._validate_subscribers()
        self._validate_trigger_map()
        self._validate_data()
        for i, a in enumerate(self.alerts):
            if a.component not in keys.components:
                raise invalid_value(f"alerts[{i}].component", a.component,
                                    f"a declared service or function: {sorted(keys.components)}")
        self._validate_canary_cadence()

    def _validate_service_refs(self, where: str, s: Service, keys: _Declared) -> None:
        if s.phase not in keys.phases:
            raise invalid_value(f"{where}.phase", s.phase, f"declared: {sorted(keys.phases)}")
        for topic in s.publishes:
            if topic not in keys.topics:
                raise invalid_value(f"{where}.publishes", topic, f"declared topics: {sorted(keys.topics)}")
        for target in s.invokes:
            if target not in keys.services or target == s.key:
                raise invalid_value(f"{where}.invokes", target,
                                    f"another declared service: {sorted(keys.services - {s.key})}")
        self._validate_access(where, s)

    def _validate_transition(self, where: str, t: Transition, keys: _Declared) -> None:
        for name, value in (("source", t.source), ("target", t.target)):
            if value not in keys.phases:
                raise invalid_value(f"{where}.{name}", value, f"declared phases: {sorted(keys.phases)}")
        if t.topic not in keys.topics:
            raise invalid_value(f"{where}.topic", t.topic, f"declared topics: {sorted(keys.topics)}")
        if t.target_service not in keys.services:
            raise invalid_value(f"{where}.target_service", t.target_service,
                                f"declared services: {sorted(keys.services)}")
        routes = self.service(t.target_service).routes
        if t.path not in routes:
            raise invalid_value(f"{where}.path", t.path, f"routes of {t.target_service}: {list(routes)}")
        if t.kind == "gated":
            self._validate_gate(where, t, keys)

    def _validate_gate(self, where: str, t: Transition, keys: _Declared) -> None:
        """A gated transition's function: the orchestrator of its topic, publishing exactly
        its trigger topic, over a phase that has something to wait for."""
        if t.function is None:
            raise invalid_value(f"{where}.function", None,
                                f"a gated transition needs a function; declared: {sorted(keys.functions)}")
        if t.function not in keys.functions:
            raise invalid_value(f"{where}.function", t.function,
                                f"declared functions: {sorted(keys.functions)}")
        fn = self.function(t.function)
        if fn.role != "orchestrator" or fn.trigger_topic != t.topic:
            raise invalid_value(f"{where}.function", t.function,
                                f"an orchestrator function triggered by topic {t.topic!r}")
        if t.trigger_topic is None or t.trigger_topic not in keys.topics:
            raise invalid_value(f"{where}.trigger_topic", t.trigger_topic,
                                f"declared topics: {sorted(keys.topics)}")
        if fn.publishes != (t.trigger_topic,):
            raise invalid_value(f"functions[{t.function}].publishes", fn.publishes,
                                f"exactly ({t.trigger_topic!r},), the transition's trigger topic")
        if not self.enabled_processors(t.source):
            raise invalid_value(f"{where}.source", t.source, "a phase with at least one enabled processor")

    def _validate_job_target(self, where: str, j: ScheduledJob, keys: _Declared) -> None:
        """A job calls a route of a declared service, or a declared HTTP function."""
        if j.target in keys.services:
            routes = self.service(j.target).routes
            if j.path not in routes:
                raise invalid_value(f"{where}.path", j.path, f"routes of {j.target}: {list(routes)}")
        elif j.target in keys.functions:
            if self.function(j.target).signature != "http":
                raise invalid_value(f"{where}.target", j.target, "a scheduler calls HTTP functions only")
        else:
            raise invalid_value(f"{where}.target", j.target,
                                f"a declared service or function: {sorted(keys.components)}")

    def _validate_access(self, where: str, s: Service) -> None:
        datasets = {d.key for d in self.datasets}
        buckets = {b.key for b in self.buckets}
        for name, keys, declared in (("reads", s.reads, datasets), ("writes", s.writes, datasets),
                                     ("reads_buckets", s.reads_buckets, buckets),
                                     ("writes_buckets", s.writes_buckets, buckets)):
            for key in keys:
                if key not in declared:
                    raise invalid_value(f"{where}.{name}", key, f"declared: {sorted(declared)}")
        for name, reads, writes in (("reads", s.reads, s.writes),
                                    ("reads_buckets", s.reads_buckets, s.writes_buckets)):
            both = sorted(set(reads) & set(writes))
            if both:
                raise invalid_value(f"{where}.{name}", both, "a written store is readable already; "
                                    "list it in writes only")

    def _validate_subscribers(self) -> None:
        consumed = {t.topic for t in self.transitions if t.kind == "direct"}
        consumed |= {t.trigger_topic for t in self.gated() if t.trigger_topic}
        consumed |= {f.trigger_topic for f in self.functions if f.trigger_topic}
        for i, t in enumerate(self.topics):
            if t.key not in consumed:
                raise invalid_value(f"topics[{i}].key", t.key,
                                    "nobody subscribes to this topic: add a transition or function "
                                    "trigger that consumes it, or remove it")

    def _validate_trigger_map(self) -> None:
        by_name = {p.name: p for p in self.processors}
        phase3 = sorted(n for n, p in by_name.items() if p.phase == 3)
        writers = self.output_tables(2)
        declared = sorted(writers)
        for table, procs in self.trigger_map.items():
            where = f"trigger_map[{table!r}]"
            if table not in writers:
                # A key no processor writes never fires: its Phase 3 processors silently
                # never run from it (the drift that once stalled a phase for days).
                raise invalid_value("trigger_map", table,
                                    "keys are the output tables of declared Phase 2 processors "
                                    f"(processors[].output_tables): {declared}")
            if not procs:
                raise invalid_value(where, procs, "at least one Phase 3 processor")
            for name in procs:
                proc = by_name.get(name)
                if proc is None or proc.phase != 3:
                    raise invalid_value(where, name, f"declared Phase 3 processors: {phase3}")
        # Entries of disabled processors stay declared but never fire (active_trigger_map
        # drops them), so disabling a processor is one edit.
        # Every processor the orchestrator waits for must be started by some entry, or the
        # gate waits for it forever.
        reached = {name for procs in self.active_trigger_map().values() for name in procs}
        for i, p in enumerate(self.processors):
            if p.phase == 3 and p.enabled and p.gated and p.name not in reached:
                raise invalid_value(f"processors[{i}].name", p.name,
                                    "an enabled, gated Phase 3 processor is in the orchestrator's "
                                    "expected set, but no trigger_map entry (an enabled Phase 2 "
                                    "processor's table) triggers it, so the gate would wait for it "
                                    "forever: add it to a trigger_map entry, or set gated=False or "
                                    "enabled=False")

    def _validate_data(self) -> None:
        dataset_keys = {d.key for d in self.datasets}
        for i, p in enumerate(self.phases):
            if p.dataset is not None and p.dataset not in dataset_keys:
                raise invalid_value(f"phases[{i}].dataset", p.dataset, f"declared: {sorted(dataset_keys)}")
        for i, t in enumerate(self.tables):
            if t.dataset not in dataset_keys:
                raise invalid_value(f"tables[{i}].dataset", t.dataset, f"declared: {sorted(dataset_keys)}")

    def _validate_canary_cadence(self) -> None:
        """The canary must run at least as often as the smallest stall limit it checks, or a
        stall can last longer than its limit before anything reports it."""
        gated = [(i, t) for i, t in enumerate(self.transitions) if t.kind == "gated"]
        if not gated:
            return
        stall_at, stall = min(((i, t.stall_minutes) for i, t in gated), key=lambda x: x[1])
        limit = f"transitions[{stall_at}].stall_minutes = {stall}"
        example = next((f"*/{m} * * * *" for m in (30, 20, 15, 10, 5) if m <= stall), "")
        for fi, fn in enumerate(self.functions):
            if fn.role != "canary":
                continue
            jobs = [(i, j) for i, j in enumerate(self.jobs) if j.target == fn.key]
            if not jobs:
                raise invalid_value(f"functions[{fi}].key", fn.key,
                                    f"the canary runs only from a scheduler job: add one (jobs[].target="
                                    f"{fn.key!r}) running at least every {stall} minutes ({limit})")
            gap = limits.longest_gap_minutes(tuple((j.schedule, j.time_zone) for _, j in jobs))
            if gap > stall:
                i, j = max(jobs, key=lambda it: limits.longest_gap_minutes(
                    ((it[1].schedule, it[1].time_zone),)))
                raise invalid_value(f"jobs[{i}].schedule", j.schedule,
                                    f"the canary's job runs up to {gap} minutes apart ({j.time_zone}, "
                                    f"over {limits.GAP_YEAR}), longer than the smallest stall limit it "
                                    f"checks ({limit}): run it at least every {stall} minutes, "
                                    f"e.g. '{example}'")


@dataclass(frozen=True)
class _Declared:
    """The keys pass 3 checks references against."""

    phases: frozenset[int]
    topics: frozenset[str]
    services: frozenset[str]
    functions: frozenset[str]

    @classmethod
    def of(cls, m: Manifest) -> _Declared:
        return cls(frozenset(p.number for p in m.phases), frozenset(t.key for t in m.topics),
                   frozenset(s.key for s in m.services), frozenset(f.key for f in m.functions))

    @property
    def components(self) -> frozenset[str]:
        """Services and functions: what a job or an alert may name."""
        return self.services | self.functions


def _validate_function_refs(where: str, f: Function, keys: _Declared) -> None:
    if f.trigger_topic is not None and f.trigger_topic not in keys.topics:
        raise invalid_value(f"{where}.trigger_topic", f.trigger_topic,
                            f"declared topics: {sorted(keys.topics)}")
    for topic in f.publishes:
        if topic not in keys.topics:
            raise invalid_value(f"{where}.publishes", topic, f"declared topics: {sorted(keys.topics)}")


Component = TypeVar("Component", Service, Function)


def _declared(kind: str, items: Sequence[Component], key: str) -> Component:
    """The item of ``items`` whose key is ``key``; ``KeyError`` naming the declared keys."""
    for item in items:
        if item.key == key:
            return item
    raise KeyError(f"{kind} {key!r} is not declared ({kind}s: "
                   f"{', '.join(i.key for i in items)})")


def _unique(field_path: str, values: Sequence[Hashable]) -> None:
    counts = Counter(values)
    dupes = sorted(str(v) for v, n in counts.items() if n > 1)
    if dupes:
        first = next(v for v in values if counts[v] > 1)
        at = [i for i, v in enumerate(values) if v == first]
        raise ManifestError(f"{field_path}: duplicate names {dupes}; each must be unique "
                            f"({first!r} is declared {len(at)} times, at positions {at})")

