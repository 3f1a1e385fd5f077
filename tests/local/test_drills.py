"""The drills' pieces that need no emulator: each stack broken exactly as its incident broke
production, the alert-policy coverage read from the stack, the drill clock's zone, the table.

The drills themselves run on the emulators in ``tests/integration/test_drills.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra.local import drill_stacks
from infra.local.coverage import coverage
from infra.local.drills import FALLBACK_ZONE, Row, pick_zone, select, table
from infra.local.errors import LocalError
from infra.local.freshness import check_consistency
from infra.local.topology import read_topology, region_of
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.paths import stack_file
from infra.stackjson.stack import StackJson

ENV = get_env("dev")
ORCH = "phase3-to-phase4-orchestrator"


@pytest.fixture
def base(synth_dir: Path) -> Path:
    return stack_file("dev", synth_dir)


@pytest.fixture
def data(base: Path) -> dict[str, Any]:
    return json.loads(base.read_text())


def topology_of(data: dict[str, Any], base: Path, tmp_path: Path):
    path = drill_stacks.write_stack(data, base, tmp_path / "stack" / "cdk.tf.json")
    return read_topology(path, ENV.sport)


def test_the_push_edge_loses_exactly_its_invoker(data, base, tmp_path):
    before = read_topology(base, ENV.sport)
    said = drill_stacks.remove_push_invoker(data, "nba-phase3-analytics-sub")
    after = topology_of(data, base, tmp_path)
    push = "nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com"
    target = "nba-phase3-analytics-processors"
    assert before.targets[target].allows(push) and not after.targets[target].allows(push)
    assert set(before.targets[target].invokers) - set(after.targets[target].invokers) == {
        f"serviceAccount:{push}"}
    assert {n: t.invokers for n, t in before.targets.items() if n != target} == {
        n: t.invokers for n, t in after.targets.items() if n != target}
    sub = next(s for s in after.subscriptions if s.name == "nba-phase3-analytics-sub")
    assert (sub.minimum_backoff, sub.maximum_backoff) == ("1s", "2s")
    assert said == ("roles/run.invoker of nba-phase3-analytics-sub's push identity on "
                    "nba-phase3-analytics-processors removed")


def test_the_trigger_identity_loses_exactly_its_invoker(data, base, tmp_path):
    before = read_topology(base, ENV.sport)
    drill_stacks.remove_trigger_invoker(data, ORCH)
    after = topology_of(data, base, tmp_path)
    (fn,) = [f for f in after.functions if f.name == ORCH]
    assert before.targets[ORCH].allows(fn.trigger_identity)
    assert not after.targets[ORCH].allows(fn.trigger_identity)
    assert len(before.targets[ORCH].invokers) - len(after.targets[ORCH].invokers) == 1


def test_the_crashing_bundle_raises_at_import_and_is_a_new_object(data, base, tmp_path):
    drill_stacks.crash_at_import(data, ORCH, base, tmp_path / "bundles")
    after = topology_of(data, base, tmp_path)
    (fn,) = [f for f in after.functions if f.name == ORCH]
    (orig,) = [f for f in read_topology(base, ENV.sport).functions if f.name == ORCH]
    assert fn.bundle_object != orig.bundle_object
    assert fn.bundle_object.startswith("functions/phase3_to_phase4-")
    assert fn.bundle_asset is not None
    with zipfile.ZipFile(fn.bundle_asset) as z, zipfile.ZipFile(orig.bundle_asset) as o:
        main = z.read("main.py").decode()
        assert main.startswith("raise RuntimeError('drill:")
        assert main.removeprefix(drill_stacks.CRASH_LINE) == o.read("main.py").decode()
        assert sorted(z.namelist()) == sorted(o.namelist())


def test_the_drifted_orchestrator_lacks_one_processor_and_up_refuses_it_unless_told(
        data, base, tmp_path):
    dropped = load().enabled_processors(3)[-1]
    drill_stacks.drop_expected_processor(data, ORCH, dropped)
    after = topology_of(data, base, tmp_path)
    with pytest.raises(LocalError, match="EXPECTED_PROCESSORS"):
        check_consistency(after, load(), ENV)
    drift: list[str] = []
    check_consistency(after, load(), ENV, drift)
    assert len(drift) == 1 and dropped in drift[0]
    with pytest.raises(LocalError, match="does not expect 'ghost'"):
        drill_stacks.drop_expected_processor(data, ORCH, "ghost")


def test_a_stack_without_alert_policies_is_not_covered(dev: StackJson):
    covered = {c.drill: c for c in coverage(dev, "pipeline-canary", region_of(dev))}
    assert set(covered) == {"canary-silenced", "scheduler-failures", "backlog-age"}
    stripped = json.loads(json.dumps(dev.data))
    stripped["resource"].pop("google_monitoring_alert_policy", None)
    bare = {c.drill: c for c in coverage(StackJson(stripped), "pipeline-canary", "us-west2")}
    assert all(not c.covered and c.by.startswith("NOT COVERED") for c in bare.values())
    assert bare["scheduler-failures"].missing == tuple(sorted(
        r.body["name"] for r in dev.of_type("google_cloud_scheduler_job")))
    assert "eventarc-us-west2-phase3-to-phase4-orchestrator-*" in bare["backlog-age"].missing


def test_a_policy_on_another_resource_does_not_cover(dev: StackJson):
    """Matching is by resource type and name: a backlog policy on the dead-letter
    subscription does not cover the edge's own subscription."""
    data = json.loads(json.dumps(dev.data))
    for body in data["resource"].get("google_monitoring_alert_policy", {}).values():
        text = json.dumps(body).replace('subscription_id=\\"nba-phase2-raw-sub\\"',
                                        'subscription_id=\\"nba-phase2-raw-sub-dlq-sub\\"')
        body.clear()
        body.update(json.loads(text))
    (backlog,) = [c for c in coverage(StackJson(data), "pipeline-canary", "us-west2")
                  if c.drill == "backlog-age"]
    assert backlog.missing == ("nba-phase2-raw-sub",)


@pytest.mark.parametrize(("utc", "zone"), [
    ("2026-03-10T16:00:00", "America/New_York"),   # 12:00 in New York
    ("2026-03-10T04:30:00", FALLBACK_ZONE),        # 00:30 in New York
    ("2026-03-10T03:30:00", FALLBACK_ZONE),        # 23:30 in New York
    ("2026-03-10T05:30:00", "America/New_York"),   # 01:30 in New York
])
def test_the_drills_keep_clear_of_midnight(utc: str, zone: str):
    now = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert pick_zone("America/New_York", now)[0] == zone


def test_unknown_drills_are_refused_naming_the_known_ones():
    with pytest.raises(LocalError, match=r"no drill nope; drills: push-invoker, "):
        select(["baseline", "nope"])
    assert select(["backfill", "push-invoker"]) == ("push-invoker", "backfill")


def test_a_late_or_alarming_row_is_not_ok():
    row = Row("d", "b", True, "canary x", "m", 15.0, 30)
    assert row.ok
    assert not Row("d", "b", True, "canary x", "m", 31.0, 30).ok
    assert not Row("d", "b", True, "x", "m", None, None, ("+0 min: trigger_stalled",)).ok
    assert not Row("d", "b", False, "NOT DETECTED", "m", None, 30).ok
    text = table([row, Row("e", "a|b", False, "NOT COVERED", "m", None, None)])
    assert "| d | b | canary x | m | 15 (30) | ok |" in text
    assert "| e | a\\|b | NOT COVERED | m | - | FAILED |" in text


def test_the_command_refuses_an_unknown_drill_before_starting_anything(tmp_path, capsys):
    from infra.local.__main__ import main

    assert main(["drill", "baseline", "nope", "--workdir", str(tmp_path)]) == 2
    assert "local: error: no drill nope; drills: push-invoker," in capsys.readouterr().err
    assert not (tmp_path / "drills").exists()
