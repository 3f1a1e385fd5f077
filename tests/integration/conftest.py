"""Session fixtures: synthesized stacks and three topologies running on the emulators.

Everything is started and stopped here. One pair of official emulators (the repo-wide
``emulator_processes`` fixture) hosts three topologies, each in its own emulator project:

* ``base``     — the dev stack Terraform applies: ``cdktf.out/stacks/pipeline-dev`` when it
                 is newer than every source it is synthesized from and agrees with the
                 manifest (``make test`` synthesizes right before pytest), else a fresh
                 synthesis;
* ``broken``   — the base stack without the Phase 3 service's invoker binding for the
                 phase2→3 push identity, and a short retry backoff on that subscription;
                 and with the prediction worker internal-only while its caller, the
                 coordinator, has no VPC egress (two independent production failures in one
                 topology, so the session brings up no third one);
* ``disabled`` — the dev stack re-synthesized with one more Phase 3 processor disabled
                 (``DISABLED_PROCESSOR``, the last one the manifest enables).

``test_drills`` brings up the drills' own topologies (one per broken stack, in projects
``drill-<name>``) on the same emulators, from the ``base`` stack.

The slow parts overlap: synthesis (~15 s of jsii start-up) runs in a subprocess started by
the first integration test; the broken day, whose pushes take ~10 s to dead-letter, is
published as soon as the base topologies are up and checked by ``test_stripped_invoker``,
which runs late (files run in name order); the CLI lifecycle test's own ``up`` (with its
own emulators) boots in the background at the same time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.local import LocalError, UpOptions, down, drill_stacks, up
from infra.local.emulators import Emulators
from infra.local.freshness import check_consistency, prepare_bundle
from infra.local.runner import default_stack
from infra.local.topology import read_topology
from infra.model.envs import get_env
from infra.model.pipeline import load
from tests.integration.support import REPO_ROOT, Running, phase1_completion

DISABLED_PROCESSOR = load().enabled_processors(3)[-1]
"""The Phase 3 processor the ``disabled`` topology turns off: one the manifest enables."""
BROKEN_TARGET = "nba-phase3-analytics-processors"
BROKEN_SUBSCRIPTION = "nba-phase3-analytics-sub"
CLOSED_TARGET = "prediction-worker"
SYNTH_TIMEOUT_S = 180
SYNTH_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CHECKPOINT_DISABLE": "1"}
SYNTH_SOURCES = ("infra/**/*.py", "infra/model/schemas/**/*.json", "functions/**/*", "cdktf.json")


@dataclass
class Background:
    """Work started at the beginning of the session and collected later."""

    synth: subprocess.Popen[str]
    outdir: Path
    fresh_base: Path | None
    paths: dict[str, Path] = field(default_factory=dict)
    cli_up: subprocess.Popen[str] | None = None
    cli_workdir: Path | None = None

    def stack(self, variant: str) -> Path:
        if variant == "base" and self.fresh_base is not None:
            return self.fresh_base
        if not self.paths:
            try:
                stdout, stderr = self.synth.communicate(timeout=SYNTH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.synth.kill()
                pytest.fail(f"synthesis took longer than {SYNTH_TIMEOUT_S}s")
            if self.synth.returncode != 0:
                pytest.fail(f"synthesis failed: {stderr[-2000:]}")
            self.paths = {k: Path(v) for k, v in
                          json.loads(stdout.strip().splitlines()[-1]).items()}
        return self.paths[variant]


@dataclass(frozen=True)
class BrokenDay:
    """The day published on the broken topology as soon as it is up."""

    running: Running
    game_date: str
    trigger_subscription: str


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m infra.local ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "infra.local", *args], cwd=REPO_ROOT,
                          env=env or _cli_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def fresh_dev_stack(scratch: Path) -> Path | None:
    """``cdktf.out``'s dev stack if it is newer than its sources and matches the manifest."""
    path = default_stack("dev")
    if not path.is_file():
        return None
    sources = itertools.chain.from_iterable(REPO_ROOT.glob(p) for p in SYNTH_SOURCES)
    newest = max((p.stat().st_mtime for p in sources
                  if p.is_file() and "__pycache__" not in p.parts
                  and "local" not in p.relative_to(REPO_ROOT).parts[:2]), default=0.0)
    if newest >= path.stat().st_mtime:
        return None
    try:
        topology = read_topology(path, "nba")
        check_consistency(topology, load(), get_env("dev"))
        for fn in topology.functions:
            # Raises when the source no longer builds the bundle the stack deploys.
            prepare_bundle(fn, scratch, say=lambda _line: None)
    except LocalError:
        return None
    return path if all(f.bundle_asset for f in topology.functions) else None


def start_cli_up(bg: Background, workdir: Path, stack: Path) -> None:
    """Start the CLI lifecycle test's ``up`` (own emulators) in the background."""
    bg.cli_workdir = workdir
    cli_stack = [] if stack == default_stack("dev") else ["--stack", str(stack)]
    bg.cli_up = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "up", "--env", "dev", *cli_stack,
         "--workdir", str(workdir), "--no-scheduler"],
        cwd=REPO_ROOT, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="session", autouse=True)
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    outdir = tmp_path_factory.mktemp("synth")
    fresh = fresh_dev_stack(tmp_path_factory.mktemp("freshness"))
    variants = ["disabled"] if fresh else ["base", "disabled"]
    synth = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "synth_variants.py"), str(outdir),
         DISABLED_PROCESSOR, *variants],
        cwd=REPO_ROOT, env={**os.environ, **SYNTH_ENV}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    bg = Background(synth=synth, outdir=outdir, fresh_base=fresh)
    try:
        if fresh is not None:
            start_cli_up(bg, tmp_path_factory.mktemp("cli"), fresh)
        yield bg
    finally:
        # On every path: an `up` that hangs is killed, and whatever it recorded is stopped.
        if synth.poll() is None:
            synth.kill()
        synth.communicate()
        if bg.cli_up is not None:
            try:
                bg.cli_up.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                bg.cli_up.kill()
                bg.cli_up.communicate()
            finally:
                if bg.cli_workdir is not None:
                    down(bg.cli_workdir, say=lambda _line: None)


def break_invoker(base: Path, out: Path, subscription: str) -> Path:
    """Write a copy of ``base`` without the invoker of ``subscription``'s push identity on its
    target (``BROKEN_TARGET``), as the push-invoker drill breaks it, and with
    ``CLOSED_TARGET`` internal-only."""
    data = json.loads(base.read_text())
    said = drill_stacks.remove_push_invoker(data, subscription)
    assert f"on {BROKEN_TARGET} removed" in said, said
    close_ingress(data, CLOSED_TARGET)
    return drill_stacks.write_stack(data, base, out)


def close_ingress(data: dict[str, Any], target: str) -> None:
    """Make service ``target`` of the stack ``data`` internal-only (callers keep no VPC egress)."""
    services = data["resource"]["google_cloud_run_v2_service"]
    [body] = [b for b in services.values() if b.get("name") == target]
    body["ingress"] = "INGRESS_TRAFFIC_INTERNAL_ONLY"


@pytest.fixture(scope="session")
def base_stack(background: Background) -> Path:
    return background.stack("base")


@pytest.fixture(scope="session")
def disabled_stack(background: Background) -> Path:
    return background.stack("disabled")


@pytest.fixture(scope="session")
def hosts(emulator_processes: Emulators) -> dict[str, str]:
    return {"pubsub": emulator_processes.pubsub.address,
            "firestore": emulator_processes.firestore.address}


@pytest.fixture(scope="session")
def local_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local")


def _bring_up(name: str, stack: Path, manifest_disabled: bool, root: Path,
              hosts: dict[str, str]) -> Running:
    manifest = load()
    if manifest_disabled:
        manifest = manifest.with_processor_enabled(DISABLED_PROCESSOR, False)
    state = up(UpOptions(env="dev", stack=stack, workdir=root / name, manifest=manifest,
                         project=f"local-{name}", emulator_hosts=hosts, scheduler=False),
               say=lambda _line: None)
    return Running(name=name, workdir=root / name, state=state, manifest=manifest, stack=stack)


@pytest.fixture(scope="session")
def local(base_stack: Path, hosts: dict[str, str], background: Background,
          local_root: Path) -> Iterator[dict[str, Running]]:
    """The base and broken topologies, up side by side; the CLI's own ``up`` boots meanwhile."""
    if background.cli_up is None:
        start_cli_up(background, local_root / "cli", base_stack)
    broken = break_invoker(base_stack, local_root / "broken-stack" / "cdk.tf.json",
                           BROKEN_SUBSCRIPTION)
    stacks = {"base": base_stack, "broken": broken}
    running: dict[str, Running] = {}
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for r in pool.map(lambda n: _bring_up(n, stacks[n], False, local_root, hosts),
                              stacks):
                running[r.name] = r
        yield running
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda n: down(local_root / n, say=lambda _line: None), stacks))


@pytest.fixture(scope="session")
def broken_day(local: dict[str, Running]) -> BrokenDay:
    """Published as soon as any topology is requested (``base`` and ``disabled`` depend on
    it), so its retries overlap the other tests; ``test_stripped_invoker`` checks it."""
    running = local["broken"]
    today = dt.datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    sub = running.own_subscription("phase4-trigger", "broken")
    running.pubsub.publish_json(running.topic(running.state["entry"]["topic"]),
                                [phase1_completion(running, today)])
    return BrokenDay(running=running, game_date=today, trigger_subscription=sub)


@pytest.fixture(scope="session")
def base(local: dict[str, Running], broken_day: BrokenDay) -> Running:
    return local["base"]


@pytest.fixture(scope="session")
def disabled(disabled_stack: Path, hosts: dict[str, str], local_root: Path,
             broken_day: BrokenDay) -> Iterator[Running]:
    try:
        yield _bring_up("disabled", disabled_stack, True, local_root, hosts)
    finally:
        down(local_root / "disabled", say=lambda _line: None)
