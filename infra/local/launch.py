"""The launch plan: what ``up`` starts, decided before anything starts.

``plan_up`` is a pure function of the topology (read from the stack), the manifest, the
environment and the options: which emulators to spawn (or which running ones to reuse), the
functions functions-framework serves, the contract simulators standing in for the Cloud Run
services, one front per target with the push deliveries and the ingress it applies, the
scheduler's jobs, and what the demo reads from ``state.json``. It binds no port and spawns
nothing: the runner (``infra.local.runner``) does, then ``supervisor_plan`` and
``state_fields`` turn the plan and the ports it got into the supervisor's plan file and
``state.json``. ``find_job`` resolves the job ``run-job`` names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.local.errors import LocalError
from infra.local.front import DeliveryPolicy, FrontPlan, FrontSpec
from infra.local.records import FRONTS_LOG
from infra.local.simulator import SimulatorSpec, simulator_specs
from infra.local.supervisor import JobCall
from infra.local.topology_types import FunctionSpec, Topology
from infra.model.envs import EnvConfig
from infra.model.manifest import Manifest
from infra.model.naming import Names, key_of
from infra.paths import REPO_ROOT

DEFAULT_WORKDIR = REPO_ROOT / ".local"
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


@dataclass(frozen=True)
class UpOptions:
    """How to bring the pipeline up. Defaults: the dev stack in ``cdktf.out``, ``.local/``.

    ``manifest``: what the simulators follow (default: ``infra.model.pipeline.load()``); it must
    be the manifest the stack was synthesized from. ``project``: emulator project id
    (default: the stack's). ``emulator_hosts``: reuse running emulators (``pubsub``,
    ``firestore`` → ``host:port``) instead of starting them; ``down`` then leaves them.

    For drills, which deploy broken stacks on purpose: ``allow_config_drift`` starts a stack
    whose functions' environment differs from what the manifest generates (a note is printed
    instead of the refusal); ``crashing_functions`` names functions whose process must exit
    before it listens (code that fails at start): ``up`` waits for that exit instead of the
    port, and fails if one of them listens after all.
    """

    env: str = "dev"
    """The environment: its config (sport, names) and, unless ``stack`` is given, its stack."""
    stack: Path | None = None
    """The ``cdk.tf.json`` to run; ``None``: the env's, ``cdktf.out/stacks/pipeline-<env>/``."""
    workdir: Path = DEFAULT_WORKDIR
    """Where ``state.json``, the logs and the records go (``.local/``)."""
    manifest: Manifest | None = None
    project: str | None = None
    pubsub_port: int | None = None
    """The Pub/Sub emulator's port (likewise ``firestore_port``); ``None``: a free one."""
    firestore_port: int | None = None
    emulator_hosts: Mapping[str, str] | None = None
    scheduler: bool = True
    """``False``: the local scheduler fires no job on its schedule (``run-job`` still can)."""
    heap_mb: int = 256
    """Each emulator JVM's ``-Xmx``, in MiB."""
    allow_config_drift: bool = False
    crashing_functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmulatorLaunch:
    """An emulator to spawn: ``name`` (``pubsub``, ``firestore``) on ``port`` (None: free)."""

    name: str
    port: int | None
    heap_mb: int
    """The JVM's ``-Xmx``, in MiB (``UpOptions.heap_mb``)."""


@dataclass(frozen=True)
class Ports:
    """The ports the runner got for a plan: function and simulator backends, fronts."""

    functions: Mapping[str, int]
    """Function name → the port functions-framework serves it on."""
    simulators: Mapping[str, int]
    """Service cloud name → the port of its contract simulator."""
    fronts: Mapping[str, int]
    """Target name → the port of its front."""

    @property
    def backends(self) -> dict[str, int]:
        """Target name → the port its function or simulator listens on."""
        return {**self.functions, **self.simulators}


@dataclass(frozen=True)
class UpPlan:
    """Everything ``up`` starts and creates, before any port or process exists."""

    topology: Topology
    emulators: tuple[EmulatorLaunch, ...]
    """Emulators to spawn; empty when ``reused_hosts`` names running ones."""
    reused_hosts: dict[str, str]
    """``pubsub``/``firestore`` → ``host:port`` of running emulators to use and leave running."""
    functions: tuple[FunctionSpec, ...]
    """The stack's gen2 functions, each served by functions-framework."""
    simulators: tuple[SimulatorSpec, ...]
    """One per manifest service the stack declares as a Cloud Run service."""
    fronts: tuple[FrontPlan, ...]
    """One per target: its invokers, its ingress and the push deliveries it applies."""
    scheduler: bool
    """Whether the local scheduler fires the jobs (``UpOptions.scheduler``)."""
    demo: dict[str, Any]
    """What the demo reads from ``state.json``: gated transitions, the entry, the last hop."""

    def job_calls(self, front_ports: Mapping[str, int]) -> list[JobCall]:
        """The scheduler jobs as the local scheduler fires them, through their fronts."""
        return [JobCall(**asdict(j), front_port=front_ports[j.target]) for j in self.topology.jobs]


def job_keys(manifest: Manifest, env: EnvConfig) -> dict[str, str]:
    """Cloud Scheduler job name → the job's manifest key (``pipeline-canary-queries`` →
    ``pipeline-canary``), for ``find_job``."""
    names = Names(env)
    return {names.job(job): job.key for job in manifest.jobs}


def find_job(jobs: Sequence[JobCall], name: str, sport: str,
             keys: Mapping[str, str] | None = None) -> JobCall:
    """The job ``run-job NAME`` fires. ``name`` is, in this order: the job's cloud name, that
    name without the sport prefix, its manifest key (``keys``: see ``job_keys``), or its
    target's name (with or without the prefix) when exactly one job calls that target.
    ``LocalError`` listing the jobs when none matches, or naming them when several call it."""
    keys = keys or {}
    for matches in (lambda j: j.name == name,
                    lambda j: key_of(sport, j.name) == name,
                    lambda j: keys.get(j.name) == name):
        found = [j for j in jobs if matches(j)]
        if found:
            return found[0]
    calling = [j for j in jobs if name in (j.target, key_of(sport, j.target))]
    if len(calling) == 1:
        return calling[0]
    if calling:
        raise LocalError(f"{len(calling)} scheduler jobs call {name!r}: "
                         f"{', '.join(j.name for j in calling)}; name one")
    declared = ", ".join(
        f"{j.name}" + (f" (key {keys[j.name]})" if keys.get(j.name) not in (None, j.name) else "")
        + f" → {j.target}" for j in jobs)
    raise LocalError(f"no scheduler job {name!r}; give a job's name, its manifest key or the "
                     f"target only it calls: {declared or 'the stack declares none'}")


def plan_up(topology: Topology, manifest: Manifest, env: EnvConfig,
            opts: UpOptions) -> UpPlan:
    """What to start for ``topology``; ``LocalError`` when a target would have no backend."""
    sims = tuple(simulator_specs(manifest, env, topology))
    served = {fn.name for fn in topology.functions} | {spec.name for spec in sims}
    unserved = sorted(set(topology.targets) - served)
    if unserved:
        raise LocalError(f"no local backend for Cloud Run targets {unserved}: they are "
                         "neither functions nor manifest services; is the stack stale? "
                         "run `make synth`")
    pushed: dict[str, dict[str, DeliveryPolicy]] = {name: {} for name in topology.targets}
    for s in topology.subscriptions:
        if s.push is not None:
            pushed[s.push.target][topology.subscription_path(s)] = DeliveryPolicy(
                **topology.delivery_policy(s))
    vpc_callers = tuple(sorted(t.name for t in topology.targets.values() if t.vpc_egress))
    fronts = tuple(
        FrontPlan(target=t.name, kind=t.kind, invokers=t.invokers,
                  timeout_seconds=t.timeout_seconds, deliveries=pushed[t.name],
                  internal_only=t.internal_only, vpc_callers=vpc_callers)
        for t in topology.targets.values()
    )
    reused = dict(opts.emulator_hosts or {})
    emulators = () if reused else (
        EmulatorLaunch("pubsub", opts.pubsub_port, opts.heap_mb),
        EmulatorLaunch("firestore", opts.firestore_port, opts.heap_mb),
    )
    return UpPlan(topology=topology, emulators=emulators, reused_hosts=reused,
                  functions=topology.functions, simulators=sims, fronts=fronts,
                  scheduler=opts.scheduler, demo=demo_facts(manifest, env))


def demo_facts(manifest: Manifest, env: EnvConfig) -> dict[str, Any]:
    """The gated transitions, where a day enters the pipeline and the service it ends at."""
    names = Names(env)
    gated = [
        {"transition": t.key, "collection": t.completion_collection,
         "source_phase": manifest.phase(t.source).id, "topic": t.topic,
         "trigger_topic": t.trigger_topic,
         "expected": list(manifest.enabled_processors(t.source))}
        for t in manifest.gated()
    ]
    first_transition = min(manifest.transitions, key=lambda t: t.source)
    entry_phase = manifest.phase(first_transition.source)
    entry_service = next((s for s in manifest.services if s.phase == entry_phase.number), None)
    last = max(manifest.transitions, key=lambda t: t.target)
    return {
        "gated": gated,
        "entry": {"topic": first_transition.topic, "phase": entry_phase.id,
                  "processor": (entry_service.key.replace("-", "_") if entry_service
                                else entry_phase.id)},
        "final_target": names.service(manifest.service(last.target_service)),
    }


def function_process_env(fn: FunctionSpec, project: str, hosts: Mapping[str, str], port: int,
                         inherited: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment functions-framework serves ``fn`` with, and the local changes made.

    ``inherited``: the caller's environment (only ``PASSED_ENV`` is kept); then the stack's
    variables, with two adjusted: ``GCP_PROJECT`` names the emulator project (which may differ
    from the stack's), ``BQ_COMPLETIONS_TABLE`` is emptied (there is no BigQuery emulator; the
    orchestrator skips its dual write then); then the emulator and runtime settings.
    """
    env = {k: inherited[k] for k in PASSED_ENV if k in inherited}
    env.update(fn.environment)
    changed: list[str] = []
    if "GCP_PROJECT" in env and env["GCP_PROJECT"] != project:
        env["GCP_PROJECT"] = project
        changed.append(f"GCP_PROJECT={project}")
    if env.get("BQ_COMPLETIONS_TABLE"):
        env["BQ_COMPLETIONS_TABLE"] = ""
        changed.append("BQ_COMPLETIONS_TABLE='' (no BigQuery emulator)")
    env.update({
        "PUBSUB_EMULATOR_HOST": hosts["pubsub"],
        "FIRESTORE_EMULATOR_HOST": hosts["firestore"],
        "GOOGLE_CLOUD_PROJECT": project,
        "K_SERVICE": fn.name,
        "FUNCTION_TARGET": fn.entry_point,
        "FUNCTION_SIGNATURE_TYPE": fn.signature,
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env, changed


def front_specs(plan: UpPlan, ports: Ports) -> list[FrontSpec]:
    """Each front with its own port and its backend's."""
    backends = ports.backends
    return [f.spec(ports.fronts[f.target], backends[f.target]) for f in plan.fronts]


def supervisor_plan(plan: UpPlan, hosts: Mapping[str, str], ports: Ports, records_dir: Path,
                    listen_fds: Mapping[int, int]) -> dict[str, Any]:
    """The plan file the supervisor reads: fronts, simulators, jobs, inherited sockets."""
    return {
        "project": plan.topology.project, "pubsub_host": hosts["pubsub"],
        "records_dir": str(records_dir),
        "fronts": [f.to_json() for f in front_specs(plan, ports)],
        "simulators": [{"spec": s.to_json(), "port": ports.simulators[s.name]}
                       for s in plan.simulators],
        "jobs": [j.to_json() for j in plan.job_calls(ports.fronts)], "scheduler": plan.scheduler,
        "listen_fds": {str(port): fd for port, fd in listen_fds.items()},
    }


def state_fields(plan: UpPlan, hosts: Mapping[str, str], ports: Ports,
                 workdir: Path) -> dict[str, Any]:
    """What ``state.json`` records once everything listens (the demo and tests read it)."""
    topology = plan.topology
    port_map: dict[str, int] = {"pubsub": int(hosts["pubsub"].rsplit(":", 1)[1]),
                                "firestore": int(hosts["firestore"].rsplit(":", 1)[1])}
    port_map.update({f"front:{target}": port for target, port in ports.fronts.items()})
    port_map.update({f"backend:{name}": port for name, port in ports.backends.items()})
    subscriptions = sorted(topology.subscriptions, key=lambda s: s.short)
    return {
        "pubsub_emulator_host": hosts["pubsub"],
        "firestore_emulator_host": hosts["firestore"],
        "topics": {short: topology.topic_path(short) for short in sorted(topology.topics)},
        "subscriptions": {s.short: topology.subscription_path(s) for s in subscriptions},
        "delivery_policies": {
            s.short: {**topology.delivery_policy(s),
                      "ack_deadline_seconds": s.ack_deadline_seconds,
                      "applied_by": "front" if s.push is not None else "emulator"}
            for s in subscriptions},
        "ports": port_map,
        "fronts": {target: f"http://127.0.0.1:{port}" for target, port in ports.fronts.items()},
        "functions": {f.name: f"http://127.0.0.1:{ports.functions[f.name]}"
                      for f in plan.functions},
        "simulators": {name: f"http://127.0.0.1:{port}"
                       for name, port in ports.simulators.items()},
        "jobs": {j.short: j.name for j in topology.jobs},
        "records": str(workdir / "records"),
        "fronts_log": str(workdir / "records" / FRONTS_LOG),
        "logs": str(workdir / "logs"),
        **plan.demo,
        "emulators_owned": not plan.reused_hosts,
    }
