"""``up``, ``down`` and ``status``: bring the synthesized topology up on the emulators.

``up`` reads the stack, checks it is current (``infra.local.freshness``), plans what to start
(``infra.local.launch``), then spawns it: the Pub/Sub and Firestore emulators (small heap,
127.0.0.1, free ports, by PID), each function from its bundle with functions-framework, and
the supervisor (fronts, simulators, scheduler) in its own session; it creates every topic
and subscription with push endpoints rewritten to the fronts
(``infra.local.pubsub_topology``), and writes ``state.json``. ``down`` stops every process
``up`` started, by PID and process group, and checks that none is left. Each step prints one
line; each failure is one ``LocalError`` line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from infra import ports
from infra.local import emulators, procs
from infra.local.errors import LocalError, shown_path
from infra.local.freshness import check_consistency, prepare_bundle
from infra.local.front import as_path
from infra.local.launch import (
    DEFAULT_WORKDIR,
    PASSED_ENV,
    Ports,
    UpOptions,
    UpPlan,
    front_specs,
    function_process_env,
    plan_up,
    state_fields,
    supervisor_plan,
)
from infra.local.records import now_iso
from infra.local.supervisor import PLAN_FILE, READY_FILE
from infra.local.topology import read_topology
from infra.model.components import ManifestError
from infra.model.envs import get_env
from infra.paths import REPO_ROOT, stack_file
from infra.wait import WaitTimeout, wait_until

# Re-exported: ``infra.local`` and its commands import these from here.
__all__ = ["DEFAULT_WORKDIR", "UpOptions", "down", "read_state", "status", "up"]

STATE_FILE = "state.json"
READY_TIMEOUT_S = 60.0
POLL_S = 0.05

Say = Callable[[str], None]


def default_stack(env: str) -> Path:
    return stack_file(env)


def state_path(workdir: Path) -> Path:
    return workdir / STATE_FILE


def read_state(workdir: Path) -> dict[str, Any]:
    """The state ``up`` wrote; ``LocalError`` with the fix when nothing runs."""
    path = state_path(workdir)
    if not path.is_file():
        raise LocalError(f"the local pipeline is not running (no {path}); start it with "
                         "`python -m infra.local up --env dev` (make local-up)")
    try:
        return dict(json.loads(path.read_text()))
    except ValueError as exc:
        raise LocalError(f"{path} is not valid JSON ({exc}); run `python -m infra.local down` "
                         "and `up` again") from exc


def _left_state(workdir: Path) -> dict[str, Any] | None:
    """What an earlier ``up`` recorded in ``workdir``: ``None`` without a state file, ``{}``
    when it is no JSON object (it names no process then)."""
    path = state_path(workdir)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(workdir: Path, state: Mapping[str, Any]) -> None:
    path = state_path(workdir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def _connects(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, pid: int | None, what: str, log: Path, timeout: float) -> None:
    def listening() -> bool:
        if pid is not None and procs.exit_code(pid) is not None:
            raise LocalError(f"{what} exited with code {procs.exit_code(pid)} before listening; "
                             f"see {shown_path(log)}: {emulators.log_tail(log, 5)}")
        return _connects(port)

    try:
        wait_until(listening, timeout=timeout, what=f"{what} to listen", interval=POLL_S)
    except WaitTimeout:
        raise LocalError(f"{what} not listening on 127.0.0.1:{port} after {timeout:.0f}s; "
                         f"see {shown_path(log)}: {emulators.log_tail(log, 5)}") from None


def _wait_exit(port: int, pid: int, what: str, log: Path, timeout: float) -> int:
    """Wait for ``pid`` to exit without ever listening on ``port``; return its exit code.
    ``LocalError`` when it listens (the crash it was deployed to have did not happen)."""

    def exited() -> int | None:
        code = procs.exit_code(pid)
        if code is None and emulators.port_in_use(port):
            raise LocalError(f"{what} listens on 127.0.0.1:{port} but was deployed to crash at "
                             f"start; see {shown_path(log)}")
        return code

    try:
        return wait_until(exited, timeout=timeout, what=f"{what} to exit", interval=POLL_S)
    except WaitTimeout:
        raise LocalError(f"{what} neither listened nor exited within {timeout:.0f}s; "
                         f"see {shown_path(log)}") from None


def _preflight(workdir: Path, opts: UpOptions) -> None:
    old = _left_state(workdir)
    if old is not None:
        live = [f"{name} {pid}" for name, (pid, marker) in _owned(old).items()
                if procs.ours(pid, marker)]
        if live:
            raise LocalError(f"the local pipeline already runs from {shown_path(workdir)} "
                             f"({', '.join(live[:3])}); run `python -m infra.local down` first")
        state_path(workdir).unlink()
    for flag, port in (("--pubsub-port", opts.pubsub_port),
                       ("--firestore-port", opts.firestore_port)):
        if port is not None and emulators.port_in_use(port):
            raise LocalError(f"port {port} on 127.0.0.1 is in use; pass another {flag} (or omit "
                             "it for a free port) or stop what holds it: "
                             f"ss -ltnp 'sport = :{port}'")


def _owned(state: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    """Process name → (PID, command-line marker) of everything ``up`` started."""
    markers = state.get("markers") or {}
    return {name: (pid, str(markers.get(name, "")))
            for name, pid in (state.get("pids") or {}).items() if isinstance(pid, int)}


class _Up:
    """One ``up`` run: what it started so far, so a failure can stop all of it."""

    def __init__(self, opts: UpOptions, say: Say) -> None:
        self.opts = opts
        self.say = say
        self.workdir = opts.workdir.resolve()
        self.state: dict[str, Any] = {}

    def started(self, name: str, pid: int, marker: str) -> None:
        self.state.setdefault("pids", {})[name] = pid
        self.state.setdefault("markers", {})[name] = marker
        _write_state(self.workdir, self.state)

    def stop_all(self) -> None:
        for name, (pid, _marker) in reversed(list(_owned(self.state).items())):
            if name.endswith("-emulator"):
                emulators.stop(pid)
            else:
                procs.stop(pid)
        state_path(self.workdir).unlink(missing_ok=True)

    def run(self) -> dict[str, Any]:
        opts, say = self.opts, self.say
        began = time.monotonic()
        try:
            env = get_env(opts.env)
        except ManifestError as exc:
            raise LocalError(f"{exc}; pass --env with one of those") from exc
        stack_path = (opts.stack or default_stack(opts.env)).resolve()
        topology = read_topology(stack_path, env.sport, opts.project)
        if opts.manifest is None:
            from infra.model.pipeline import load

            manifest = load()
        else:
            manifest = opts.manifest
        drift: list[str] | None = [] if opts.allow_config_drift else None
        check_consistency(topology, manifest, env, drift)
        for line in drift or []:
            say(f"local: note: deployed as drifted on purpose: {line}")
        unknown = sorted(set(opts.crashing_functions) - {f.name for f in topology.functions})
        if unknown:
            raise LocalError(f"crashing_functions {unknown} are not functions of "
                             f"{shown_path(stack_path)}: {[f.name for f in topology.functions]}")
        say(f"local: stack {shown_path(stack_path)}: {len(topology.topics)} topics, "
            f"{len(topology.subscriptions)} subscriptions, {len(topology.targets)} Cloud Run "
            f"targets, {topology.invoker_grant_count()} invoker grants, "
            f"{len(topology.jobs)} jobs; emulator project {topology.project}")
        for note in topology.notes:
            say(f"local: note: {note}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        _preflight(self.workdir, opts)
        for sub in ("logs", "records"):
            (self.workdir / sub).mkdir(exist_ok=True)
        (self.workdir / READY_FILE).unlink(missing_ok=True)
        records = self.workdir / "records"
        for old in records.glob("*.jsonl"):
            old.unlink()
        self.state = {"status": "starting", "started_at": now_iso(), "env": env.name,
                      "stack": str(stack_path), "project": topology.project,
                      "workdir": str(self.workdir), "pids": {}}
        _write_state(self.workdir, self.state)
        try:
            return self._spawn(plan_up(topology, manifest, env, opts), began)
        except BaseException:
            self.stop_all()
            raise

    def _spawn(self, plan: UpPlan, began: float) -> dict[str, Any]:
        """Start what ``plan`` says, in order, and wait until all of it listens."""
        say, workdir = self.say, self.workdir
        topology = plan.topology
        logs = workdir / "logs"
        spawned: list[emulators.EmulatorProcess] = []
        if not plan.emulators:
            hosts = dict(plan.reused_hosts)
            say(f"local: reusing emulators pubsub {hosts['pubsub']}, "
                f"firestore {hosts['firestore']}")
        else:
            try:
                for launch in plan.emulators:
                    proc = emulators.SPAWNERS[launch.name](logs, launch.port,
                                                          heap_mb=launch.heap_mb)
                    spawned.append(proc)
                    self.started(f"{launch.name}-emulator", proc.pid, f"--port={proc.port}")
            except emulators.EmulatorError as exc:
                raise LocalError(str(exc)) from exc
            hosts = {launch.name: proc.address for launch, proc in zip(plan.emulators, spawned, strict=True)}

        # Functions start while the emulators boot: they only connect on first request.
        function_ports: dict[str, int] = {}
        for fn in plan.functions:
            folder = prepare_bundle(fn, workdir, say)
            port = ports.reserve()
            fn_env, changed = function_process_env(fn, topology.project, hosts, port, os.environ)
            log = logs / f"function-{fn.name}.log"
            argv = [sys.executable, "-m", "functions_framework", "--target", fn.entry_point,
                    "--source", str(folder / "main.py"), "--signature-type", fn.signature,
                    "--host", "127.0.0.1", "--port", str(port)]
            pid = procs.spawn(argv, log, fn_env, cwd=folder)
            self.started(f"function:{fn.name}", pid, str(folder))
            function_ports[fn.name] = port
            say(f"local: function {fn.name} ({fn.signature}, entry {fn.entry_point}) → "
                f"functions-framework on 127.0.0.1:{port} (pid {pid}, log {shown_path(log)}); "
                f"env from the stack{'; local: ' + ', '.join(changed) if changed else ''}")

        # The supervisor serves fronts and simulators on sockets bound here and inherited,
        # so no other process can take their ports between choosing and serving.
        listening: dict[int, socket.socket] = {}

        def listen() -> int:
            sock = ports.listen()
            port = int(sock.getsockname()[1])
            listening[port] = sock
            return port

        sim_ports = {spec.name: listen() for spec in plan.simulators}
        got = Ports(functions=function_ports, simulators=sim_ports,
                    fronts={f.target: listen() for f in plan.fronts})
        supervised = supervisor_plan(plan, hosts, got, workdir / "records",
                                     {port: sock.fileno() for port, sock in listening.items()})
        (workdir / PLAN_FILE).write_text(json.dumps(supervised, indent=2, sort_keys=True))
        serve_log = logs / "serve.log"
        serve_env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        serve_env.update({"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1",
                          "PYTHONDONTWRITEBYTECODE": "1"})
        argv = [sys.executable, "-m", "infra.local", "serve", "--workdir", str(workdir)]
        try:
            sup = procs.spawn(argv, serve_log, serve_env, cwd=REPO_ROOT,
                              pass_fds=[sock.fileno() for sock in listening.values()])
        finally:
            for sock in listening.values():
                sock.close()
        self.started("supervisor", sup, f"serve --workdir {workdir}")
        say(f"local: supervisor (pid {sup}, log {shown_path(serve_log)}): {len(plan.fronts)} fronts, "
            f"{len(plan.simulators)} contract simulators, scheduler "
            f"{'on (jobs fire on their cron)' if plan.scheduler else 'off'}")

        for proc in spawned:
            try:
                emulators.wait_ready(proc)
            except emulators.EmulatorError as exc:
                raise LocalError(str(exc)) from exc
            say(f"local: {proc.name} emulator on {proc.address} (pid {proc.pid}, "
                f"log {shown_path(proc.log_path)})")

        # The Pub/Sub client library loads with ``up`` only: ``down`` and ``status`` stay light.
        from infra.local.pubsub import PubSub
        from infra.local.pubsub_topology import create_topology

        created = create_topology(PubSub(hosts["pubsub"]), topology, got.fronts)
        say(f"local: created {len(topology.topics)} topics and {created} subscriptions in "
            f"{topology.project}; push endpoints → fronts at http://127.0.0.1:<port>/__as/<identity>/…")

        for fn in plan.functions:
            pid = int(self.state["pids"][f"function:{fn.name}"])
            log = logs / f"function-{fn.name}.log"
            if fn.name in self.opts.crashing_functions:
                code = _wait_exit(function_ports[fn.name], pid, f"function {fn.name}", log,
                                  READY_TIMEOUT_S)
                say(f"local: function {fn.name} exited with code {code} before listening, as "
                    f"deployed (its front answers 503); see {shown_path(log)}: "
                    f"{emulators.log_tail(log, 1)}")
                continue
            _wait_port(function_ports[fn.name], pid, f"function {fn.name}", log,
                       READY_TIMEOUT_S)
        self._wait_supervisor(sup, serve_log)
        for f in front_specs(plan, got):
            say(f"local: front {f.target} ({f.kind}) on 127.0.0.1:{f.port} → backend "
                f"127.0.0.1:{f.backend_port}; invokers: "
                f"{', '.join(m.split(':', 1)[-1].split('@')[0] for m in f.invokers) or 'none'}")

        self.state.update(state_fields(plan, hosts, got, self.workdir))
        self.state["status"] = "up"
        _write_state(workdir, self.state)
        say(f"local: up in {time.monotonic() - began:.1f}s; state {shown_path(state_path(workdir))}; "
            "next: `python -m infra.local demo` (make local-demo)")
        return self.state

    def _wait_supervisor(self, pid: int, log: Path) -> None:
        def ready() -> bool:
            code = procs.exit_code(pid)
            if code is not None:
                raise LocalError(f"the supervisor exited with code {code}; see {shown_path(log)}: "
                                 f"{emulators.log_tail(log, 3)}")
            return (self.workdir / READY_FILE).is_file()

        try:
            wait_until(ready, timeout=READY_TIMEOUT_S, what="the supervisor", interval=POLL_S)
        except WaitTimeout:
            raise LocalError(f"the supervisor did not start within {READY_TIMEOUT_S:.0f}s; "
                             f"see {shown_path(log)}") from None


def up(opts: UpOptions, say: Say = print) -> dict[str, Any]:
    """Bring the pipeline up as ``opts`` says; return the state written to ``state.json``."""
    return _Up(opts, say).run()


def down(workdir: Path = DEFAULT_WORKDIR, say: Say = print) -> list[int]:
    """Stop every process ``up`` started in ``workdir``; return the PIDs stopped.

    Raises ``LocalError`` if any process (or process-group member) survives.
    """
    workdir = workdir.resolve()
    path = state_path(workdir)
    state = _left_state(workdir)
    if state is None:
        say(f"local: nothing to stop (no {shown_path(path)})")
        return []
    stopped: list[int] = []
    survivors: list[str] = []
    owned = _owned(state)

    def stop_one(name: str) -> str:
        pid, marker = owned[name]
        if not procs.alive(pid) and not procs.group_members(pid):
            return f"local: {name} (pid {pid}) already gone"
        if not procs.ours(pid, marker) and not procs.group_members(pid):
            return f"local: pid {pid} no longer runs {name}; left alone"
        if name.endswith("-emulator"):
            try:
                emulators.stop(pid)
            except emulators.EmulatorError as exc:
                survivors.append(f"{name} {pid}: {exc}")
        if procs.stop(pid):
            stopped.append(pid)
            return f"local: stopped {name} (pid {pid})"
        survivors.append(f"{name} {pid}")
        return f"local: {name} (pid {pid}) survived SIGKILL"

    # The supervisor first (no more pushes reach the functions), then the rest together.
    first = [n for n in owned if n == "supervisor"]
    for group in (first, [n for n in owned if n not in first]):
        with ThreadPoolExecutor(max_workers=max(1, len(group))) as pool:
            for line in pool.map(stop_one, group):
                say(line)
    if survivors:
        raise LocalError(f"processes survived SIGKILL: {', '.join(survivors)}; "
                         "inspect them with ps -o pid,pgid,cmd -g <pid>")
    path.unlink(missing_ok=True)
    (workdir / READY_FILE).unlink(missing_ok=True)
    say(f"local: down; {len(stopped)} process groups stopped, none left "
        f"(logs and records kept in {shown_path(workdir)})")
    return stopped


def status(workdir: Path = DEFAULT_WORKDIR, say: Say = print) -> int:
    """Print what runs; return 0 when everything ``up`` started is alive, else 1."""
    state = read_state(workdir.resolve())
    ok = True
    say(f"local: {state.get('status')} since {state.get('started_at')}; project "
        f"{state.get('project')}; stack {state.get('stack')}")
    for name, (pid, marker) in _owned(state).items():
        running = procs.ours(pid, marker)
        ok = ok and running
        say(f"local: {name:<44} pid {pid:<8} {'running' if running else 'NOT RUNNING'}")
    for target, url in sorted((state.get("fronts") or {}).items()):
        port = int(url.rsplit(":", 1)[1])
        listening = emulators.port_in_use(port)
        ok = ok and listening
        say(f"local: front {target:<38} {url:<24} {'listening' if listening else 'DOWN'}")
    return 0 if ok and state.get("status") == "up" else 1


def front_url(state: Mapping[str, Any], target: str, identity: str | None, path: str) -> str:
    """The URL a caller with ``identity`` uses to reach ``target`` at ``path``."""
    fronts = state.get("fronts") or {}
    if target not in fronts:
        raise LocalError(f"no front for {target!r}; targets: {sorted(fronts)}")
    return f"{fronts[target]}{as_path(identity, path)}"


def load_plan(workdir: Path) -> dict[str, Any]:
    return dict(json.loads((workdir.resolve() / PLAN_FILE).read_text()))

