"""Contract simulators: stand-ins for the Cloud Run services this repo deploys but does not own.

A simulator accepts exactly the calls the real service accepts (its manifest ``routes``),
records each one (append-only JSONL), and publishes the completion messages the service's
processors would publish (DOMAIN.md fields) to the topics it ``publishes``, so a pipeline
day flows end to end:

* Phase 2 (raw) answers a Phase 1 completion with one completion per *enabled* Phase 2
  processor, each naming the table it writes (the manifest's ``Processor.table``);
* Phase 3 (analytics) answers a Phase 2 completion with one completion per enabled Phase 3
  processor the manifest's trigger map lists for its ``output_table``, and a scheduler call
  to ``/process-date-range`` with the processors in its body (``backfill_mode`` sets
  ``skip_downstream_trigger``);
* a phase without declared processors (Phase 4, the scrapers) publishes one completion
  named after the service;
* a service that ``invokes`` another (the prediction coordinator) calls it through that
  target's front under its own identity, naming itself as the calling service (the front
  applies the target's ingress to it), and fails the request if the call is refused.

Malformed deliveries (not JSON, no ``game_date``) are recorded and acknowledged: a real
service would log and drop them, and redelivering cannot make them valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from functions._shared.messages import DATE_RE, normalise_processor
from infra.local.errors import LocalError
from infra.local.front import CALLER_HEADER, Envelope, Publisher, as_path
from infra.local.httpd import HOST, Answer, call
from infra.local.records import JsonlLog, now_iso
from infra.local.topology_types import Topology
from infra.model.components import Service
from infra.model.envs import EnvConfig
from infra.model.manifest import Manifest
from infra.model.naming import Names

INVOKE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    output_table: str


@dataclass(frozen=True)
class InvokeSpec:
    """A direct call to another service: its cloud name and first route."""

    target: str
    path: str


@dataclass(frozen=True)
class SimulatorSpec:
    """What one simulated service does (JSON-serializable; the supervisor rebuilds it)."""

    key: str
    name: str
    phase: int
    phase_id: str
    dataset: str | None
    routes: tuple[str, ...]
    publishes: tuple[str, ...]
    """Full topic paths in the emulator project."""
    processors: tuple[ProcessorSpec, ...]
    table_triggers: dict[str, tuple[str, ...]]
    """``output_table`` → enabled processors it triggers; empty: every processor runs."""
    invokes: tuple[InvokeSpec, ...]
    identity: str | None
    time_zone: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimulatorSpec:
        return cls(
            key=data["key"], name=data["name"], phase=int(data["phase"]),
            phase_id=data["phase_id"], dataset=data.get("dataset"),
            routes=tuple(data["routes"]), publishes=tuple(data["publishes"]),
            processors=tuple(ProcessorSpec(**p) for p in data["processors"]),
            table_triggers={k: tuple(v) for k, v in data["table_triggers"].items()},
            invokes=tuple(InvokeSpec(**i) for i in data["invokes"]),
            identity=data.get("identity"), time_zone=data["time_zone"],
        )


def snake(key: str) -> str:
    return key.replace("-", "_")


def simulator_specs(manifest: Manifest, env: EnvConfig,
                    topology: Topology) -> list[SimulatorSpec]:
    """One spec per manifest service that the stack declares as a Cloud Run service."""
    names = Names(env)
    specs: list[SimulatorSpec] = []
    for svc in manifest.services:
        cloud = names.service(svc)
        target = topology.targets.get(cloud)
        if target is None or target.kind != "service":
            continue
        specs.append(_spec(manifest, env, topology, svc, cloud, target.identity))
    return specs


def _spec(manifest: Manifest, env: EnvConfig, topology: Topology, svc: Service, cloud: str,
          identity: str | None) -> SimulatorSpec:
    names = Names(env)
    phase = manifest.phase(svc.phase)
    enabled = set(manifest.enabled_processors(svc.phase))
    processors = tuple(ProcessorSpec(p.name, p.table) for p in manifest.processors
                       if p.name in enabled)
    if not processors:
        processors = (ProcessorSpec(snake(svc.key), snake(svc.key)),)
    own = {p.name for p in manifest.processors if p.phase == svc.phase}
    triggers: dict[str, tuple[str, ...]] = {}
    for table, procs in manifest.active_trigger_map().items():
        if set(procs) & own:
            triggers[table] = tuple(p for p in procs if p in enabled)
    publishes = tuple(
        topology.topic_path(t) for t in svc.publishes if t in topology.topics
    )
    invokes = tuple(
        InvokeSpec(names.service(manifest.service(k)), manifest.service(k).routes[0])
        for k in svc.invokes
    )
    return SimulatorSpec(
        key=svc.key, name=cloud, phase=svc.phase, phase_id=phase.id,
        dataset=names.dataset(phase.dataset) if phase.dataset else None, routes=svc.routes,
        publishes=publishes, processors=processors, table_triggers=triggers, invokes=invokes,
        identity=identity, time_zone=env.time_zone,
    )


def resolve_date(value: object, time_zone: str, now: dt.datetime | None = None) -> str | None:
    """``TODAY``/``TOMORROW``/``YESTERDAY`` in ``time_zone``, or a literal YYYY-MM-DD."""
    if not isinstance(value, str):
        return None
    today = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(time_zone)).date()
    offsets = {"TODAY": 0, "TOMORROW": 1, "YESTERDAY": -1}
    if value.upper() in offsets:
        return (today + dt.timedelta(days=offsets[value.upper()])).isoformat()
    if DATE_RE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Request:
    """A decoded call: a Pub/Sub push (``subscription`` set) or a direct HTTP call."""

    payload: Any
    subscription: str | None
    message_id: str | None
    attributes: dict[str, str]


def decode_request(body: bytes) -> Request:
    env = Envelope.parse(body)
    if env.message is None:
        # An empty body is a direct call without arguments.
        return Request(env.payload if body else {}, None, None, {})
    return Request(env.payload, env.subscription, env.message.get("messageId"),
                   dict(env.message.get("attributes") or {}))


def _processor_name(requested: object) -> str:
    """A requested processor as the manifest names it (a class name is normalised as the
    orchestrator does); ``""`` when it is no processor name at all."""
    try:
        return normalise_processor(str(requested))
    except ValueError:
        return ""


class Simulator:
    """The behaviour of one service; ``handle`` is called by the HTTP server per request."""

    def __init__(self, spec: SimulatorSpec, pubsub: Publisher, fronts: Mapping[str, int],
                 log: JsonlLog) -> None:
        self.spec = spec
        self.pubsub = pubsub
        self.fronts = dict(fronts)
        self.log = log

    def processors_for(self, route: str, payload: Mapping[str, Any]) -> list[ProcessorSpec]:
        by_name = {p.name: p for p in self.spec.processors}
        requested = payload.get("processors")
        if isinstance(requested, list):
            return [by_name[w] for w in map(_processor_name, requested) if w in by_name]
        if self.spec.table_triggers:
            table = payload.get("output_table")
            return [by_name[p] for p in self.spec.table_triggers.get(str(table), ())
                    if p in by_name]
        return list(self.spec.processors)

    def completion(self, proc: ProcessorSpec, game_date: str, correlation_id: str,
                   skip: bool) -> dict[str, Any]:
        digest = hashlib.sha256(f"{proc.name}:{game_date}".encode()).digest()
        message: dict[str, Any] = {
            "processor_name": proc.name,
            "phase": self.spec.phase_id,
            "execution_id": str(uuid.uuid4()),
            "correlation_id": correlation_id,
            "game_date": game_date,
            "output_table": proc.output_table,
            "output_dataset": self.spec.dataset,
            "status": "success",
            "record_count": 10 + int.from_bytes(digest[:2], "big") % 490,
            "timestamp": now_iso(),
        }
        if skip:
            message["skip_downstream_trigger"] = True
        return message

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one call as JSON (``infra.local.httpd.Handle``)."""
        status, answer = self.reply(method, path, body)
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def reply(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Serve and record one call: the status and the JSON answer."""
        route = urllib.parse.urlsplit(path).path or "/"
        req = decode_request(body)
        record: dict[str, Any] = {
            "ts": now_iso(), "service": self.spec.name, "method": method, "route": route,
            "subscription": req.subscription, "message_id": req.message_id,
        }
        if route not in self.spec.routes:
            record.update(outcome="not_found", status=404)
            self.log.write(record)
            return 404, {"error": f"{self.spec.name} has no route {route}",
                         "routes": list(self.spec.routes)}
        payload = req.payload if isinstance(req.payload, dict) else {}
        game_date = resolve_date(payload.get("game_date") or payload.get("start_date"),
                                 self.spec.time_zone)
        record.update(game_date=game_date, correlation_id=payload.get("correlation_id"),
                      received=payload or req.payload)
        if game_date is None:
            record.update(outcome="ignored", status=200,
                          reason="payload is not a JSON object with a game_date")
            self.log.write(record)
            return 200, {"ignored": record["reason"]}
        correlation = str(payload.get("correlation_id") or f"local-{uuid.uuid4()}")
        skip = bool(payload.get("skip_downstream_trigger") or payload.get("backfill_mode"))
        published: list[dict[str, Any]] = []
        status = 200
        if self.spec.publishes:
            procs = self.processors_for(route, payload)
            messages = [self.completion(p, game_date, correlation, skip) for p in procs]
            for topic in self.spec.publishes:
                if not messages:
                    continue
                try:
                    ids = self.pubsub.publish_json(topic, messages)
                except LocalError as exc:
                    record.update(outcome="publish_failed", status=500, error=str(exc))
                    self.log.write(record)
                    return 500, {"error": str(exc)}
                published.extend(
                    {"topic": topic, "message_id": mid, "processor_name": m["processor_name"],
                     "output_table": m["output_table"]}
                    for mid, m in zip(ids, messages, strict=False)
                )
        invoked: list[dict[str, Any]] = []
        for to in self.spec.invokes:
            code = self.invoke(to, payload, correlation, game_date)
            invoked.append({"target": to.target, "path": to.path, "status": code})
            if not 200 <= code < 300:
                status = 502
        record.update(outcome="processed" if status == 200 else "invoke_failed", status=status,
                      published=published, invoked=invoked)
        self.log.write(record)
        return status, {"game_date": game_date, "published": published, "invoked": invoked}

    def invoke(self, to: InvokeSpec, payload: Mapping[str, Any], correlation: str,
               game_date: str) -> int:
        port = self.fronts.get(to.target)
        if port is None:
            return 404
        data = json.dumps({"game_date": game_date, "correlation_id": correlation,
                           "requested_by": self.spec.name, "trigger": dict(payload)}).encode()
        try:
            return call(f"http://{HOST}:{port}{as_path(self.spec.identity, to.path)}",
                        timeout=INVOKE_TIMEOUT_S, method="POST", data=data,
                        headers={"Content-Type": "application/json",
                                 CALLER_HEADER: self.spec.name})[0]
        except OSError:
            return 503

