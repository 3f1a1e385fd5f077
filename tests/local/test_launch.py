"""What ``up`` starts (``infra.local.launch``), planned from the dev stack without spawning."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from infra.local.errors import LocalError
from infra.local.launch import (
    PASSED_ENV,
    Ports,
    UpOptions,
    UpPlan,
    find_job,
    front_specs,
    function_process_env,
    job_keys,
    plan_up,
    state_fields,
    supervisor_plan,
)
from infra.local.topology import read_topology
from infra.local.topology_types import Target, Topology
from infra.model.envs import get_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.pipeline import load
from infra.paths import REPO_ROOT, stack_file

ENV = get_env("dev")
HOSTS = {"pubsub": "127.0.0.1:8681", "firestore": "127.0.0.1:8682"}


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load()


@pytest.fixture(scope="module")
def topology(synth_dir: Path) -> Topology:
    return read_topology(stack_file("dev", synth_dir), ENV.sport)


@pytest.fixture(scope="module")
def plan(topology: Topology, manifest: Manifest) -> UpPlan:
    return plan_up(topology, manifest, ENV, UpOptions(pubsub_port=9001, heap_mb=128))


def numbered(plan: UpPlan) -> Ports:
    """Distinct fake ports, as the runner would bind them."""
    port = iter(range(20000, 21000))
    return Ports(functions={f.name: next(port) for f in plan.functions},
                 simulators={s.name: next(port) for s in plan.simulators},
                 fronts={f.target: next(port) for f in plan.fronts})


def test_spawns_both_emulators_as_the_options_say(plan: UpPlan) -> None:
    assert [(e.name, e.port, e.heap_mb) for e in plan.emulators] == [
        ("pubsub", 9001, 128), ("firestore", None, 128)]
    assert plan.reused_hosts == {}


def test_reused_emulators_are_not_spawned(topology: Topology, manifest: Manifest) -> None:
    reused = plan_up(topology, manifest, ENV, UpOptions(emulator_hosts=HOSTS, scheduler=False))
    assert reused.emulators == ()
    assert reused.reused_hosts == HOSTS
    assert reused.scheduler is False
    assert state_fields(reused, HOSTS, numbered(reused), Path("/w"))["emulators_owned"] is False


def test_every_target_gets_one_front_served_by_a_function_or_a_simulator(
        plan: UpPlan, topology: Topology, manifest: Manifest) -> None:
    names = Names(ENV)
    assert [f.target for f in plan.fronts] == list(topology.targets)
    assert {f.name for f in plan.functions} == {names.function(fn) for fn in manifest.functions}
    assert {s.name for s in plan.simulators} == {
        names.service(s) for s in manifest.services if names.service(s) in topology.targets}
    backends = {f.name for f in plan.functions} | {s.name for s in plan.simulators}
    assert {f.target for f in plan.fronts} == backends


def test_each_push_subscription_is_delivered_by_its_targets_front(
        plan: UpPlan, topology: Topology) -> None:
    pushes = [s for s in topology.subscriptions if s.push is not None]
    assert pushes, "the dev stack declares push subscriptions"
    by_front = {f.target: f.deliveries for f in plan.fronts}
    for sub in pushes:
        assert sub.push is not None
        policy = by_front[sub.push.target][topology.subscription_path(sub)]
        assert policy.subscription == sub.name
    assert sum(len(d) for d in by_front.values()) == len(pushes)


def test_a_target_without_backend_is_refused_before_anything_starts(
        topology: Topology, manifest: Manifest) -> None:
    ghost = Target(name="nba-ghost", kind="service", address="google_cloud_run_v2_service.g",
                   timeout_seconds=60, identity=None)
    stale = replace(topology, targets={**topology.targets, ghost.name: ghost})
    with pytest.raises(LocalError, match=r"no local backend for Cloud Run targets \['nba-ghost'\]"):
        plan_up(stale, manifest, ENV, UpOptions())


def test_supervisor_plan_wires_fronts_jobs_and_sockets(plan: UpPlan) -> None:
    ports = numbered(plan)
    supervised = supervisor_plan(plan, HOSTS, ports, Path("/w/records"), {20000: 7})
    backends = ports.backends
    assert [(f["target"], f["port"], f["backend_port"]) for f in supervised["fronts"]] == [
        (f.target, ports.fronts[f.target], backends[f.target]) for f in plan.fronts]
    assert [s["port"] for s in supervised["simulators"]] == [
        ports.simulators[s.name] for s in plan.simulators]
    assert supervised["jobs"], "the dev stack declares scheduler jobs"
    for job in supervised["jobs"]:
        assert job["front_port"] == ports.fronts[job["target"]]
    assert supervised["listen_fds"] == {"20000": 7}
    assert (supervised["project"], supervised["pubsub_host"], supervised["records_dir"]) == (
        plan.topology.project, HOSTS["pubsub"], "/w/records")
    assert [f.port for f in front_specs(plan, ports)] == list(ports.fronts.values())


def test_state_records_ports_urls_and_the_demo_facts(plan: UpPlan, manifest: Manifest) -> None:
    ports = numbered(plan)
    state = state_fields(plan, HOSTS, ports, Path("/w"))
    assert state["ports"]["pubsub"] == 8681 and state["ports"]["firestore"] == 8682
    assert {k for k in state["ports"] if k.startswith("backend:")} == {
        f"backend:{name}" for name in ports.backends}
    assert state["functions"] == {n: f"http://127.0.0.1:{p}" for n, p in ports.functions.items()}
    assert state["emulators_owned"] is True
    assert state["records"] == "/w/records"
    assert [g["transition"] for g in state["gated"]] == [t.key for t in manifest.gated()]
    assert state["final_target"] in plan.topology.targets
    assert state["entry"]["topic"] in plan.topology.topics


def test_function_env_points_at_the_emulators_and_passes_only_the_basics(plan: UpPlan) -> None:
    fn = next(f for f in plan.functions if f.environment.get("BQ_COMPLETIONS_TABLE"))
    fn = replace(fn, environment={**fn.environment, "GCP_PROJECT": "elsewhere"})
    inherited = {"PATH": "/bin", "HOME": "/home/x", "AWS_SECRET": "nope"}
    env, changed = function_process_env(fn, "local-proj", HOSTS, 8123, inherited)
    assert set(inherited) & set(env) == {"PATH", "HOME"} <= set(PASSED_ENV)
    assert (env["GCP_PROJECT"], env["GOOGLE_CLOUD_PROJECT"]) == ("local-proj", "local-proj")
    assert env["BQ_COMPLETIONS_TABLE"] == ""
    assert changed == ["GCP_PROJECT=local-proj", "BQ_COMPLETIONS_TABLE='' (no BigQuery emulator)"]
    assert (env["PUBSUB_EMULATOR_HOST"], env["FIRESTORE_EMULATOR_HOST"], env["PORT"]) == (
        HOSTS["pubsub"], HOSTS["firestore"], "8123")
    assert (env["K_SERVICE"], env["FUNCTION_TARGET"]) == (fn.name, fn.entry_point)


def test_fronts_carry_each_targets_ingress_and_the_callers_routed_through_a_vpc(
        plan: UpPlan, topology: Topology, manifest: Manifest) -> None:
    fronts = {f.target: f for f in plan.fronts}
    worker = Names(ENV).service(manifest.service("prediction-worker"))
    assert not fronts[worker].internal_only
    assert all(f.internal_only for name, f in fronts.items() if name != worker)
    assert {f.vpc_callers for f in plan.fronts} == {()}
    coordinator = Names(ENV).service(manifest.service("prediction-coordinator"))
    routed = replace(topology, targets={**topology.targets, coordinator: replace(
        topology.targets[coordinator], vpc_egress=True)})
    again = plan_up(routed, manifest, ENV, UpOptions())
    assert {f.vpc_callers for f in again.fronts} == {(coordinator,)}
    spec = next(f for f in front_specs(again, numbered(again)) if f.target == worker)
    assert spec.vpc_callers == (coordinator,)


def readme_run_jobs() -> list[str]:
    """Every ``python -m infra.local run-job X`` the README shows (across line breaks)."""
    text = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"python -m infra\.local\s+run-job\s+`?([A-Za-z0-9_.-]+)", text)


def test_every_run_job_the_readme_shows_names_a_job_of_the_stack(
        plan: UpPlan, manifest: Manifest) -> None:
    jobs = plan.job_calls(numbered(plan).fronts)
    shown = readme_run_jobs()
    assert shown, "the README shows how to fire a job"
    for name in shown:
        find_job(jobs, name, ENV.sport, job_keys(manifest, ENV))  # LocalError when it does not


def test_run_job_takes_a_jobs_name_its_manifest_key_or_the_target_only_it_calls(
        plan: UpPlan, manifest: Manifest) -> None:
    jobs = plan.job_calls(numbered(plan).fronts)
    keys = job_keys(manifest, ENV)
    assert keys["pipeline-canary-queries"] == "pipeline-canary"

    def fired(name: str) -> str:
        return find_job(jobs, name, ENV.sport, keys).name

    assert fired("pipeline-canary-queries") == "pipeline-canary-queries"
    assert fired("pipeline-canary") == "pipeline-canary-queries"  # its key, and its target
    assert fired("same-day-phase3-tomorrow") == "same-day-phase3-tomorrow"
    prefixed = replace(jobs[0], name=f"{ENV.sport}-backfill")
    assert find_job([*jobs, prefixed], "backfill", ENV.sport).name == f"{ENV.sport}-backfill"
    # a target several jobs call names none of them alone
    several = [j.name for j in jobs if j.target == "nba-phase3-analytics-processors"]
    assert len(several) >= 2 and set(several) == {
        Names(ENV).job(j) for j in manifest.jobs if j.target == "phase3-analytics-processors"}
    with pytest.raises(LocalError, match=re.escape(
            f"{len(several)} scheduler jobs call 'nba-phase3-analytics-processors': "
            f"{', '.join(several)}; name one")):
        find_job(jobs, "nba-phase3-analytics-processors", ENV.sport, keys)
    with pytest.raises(LocalError, match=f"{len(several)} scheduler jobs call "
                                         "'phase3-analytics-processors'"):
        find_job(jobs, "phase3-analytics-processors", ENV.sport, keys)
    with pytest.raises(LocalError, match=r"no scheduler job 'canary-queries'; give a job's "
                                         r"name, its manifest key or the target only it calls: "
                                         r".*pipeline-canary-queries \(key pipeline-canary\) "
                                         r"→ pipeline-canary"):
        find_job(jobs, "canary-queries", ENV.sport, keys)
