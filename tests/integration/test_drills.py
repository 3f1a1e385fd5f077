"""The drills (``python -m infra.local drill``) on the session's emulators.

Every outage class of DOMAIN.md, "The incidents as drills", re-enacted on the synthesized dev
stack: each broken stack in its own emulator project of the session's one pair of emulators
(no new emulator process), the clean drills sharing one. Each row must be detected by what
the drill names, within the gate's stall limit, and no drill may raise a false alarm; the
classes only Cloud Monitoring sees must be covered by an alert policy of the stack.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from infra.local.drills import ALL_DRILLS, DrillOptions, Row, run_drills, table
from infra.model.pipeline import load

pytestmark = pytest.mark.integration

EXPECTED_BY = {
    "push-invoker": "canary dead_letters",
    "trigger-invoker": "canary orchestrator_silent",
    "orchestrator-crash": "canary orchestrator_silent",
    "config-drift": "canary configuration_drift",
    "processor-never-reports": "canary configuration_drift",
    "duplicates": "no finding (as it must)",
    "baseline": "no finding (as it must)",
    "gameless": "no finding (as it must)",
    "backfill": "no finding (as it must)",
}
MONITORING = {
    "canary-silenced": "Heartbeat missing: pipeline-canary",
    "scheduler-failures": "Scheduler job failed: pipeline-canary-queries",
    "backlog-age": "Backlog age: phase3-to-phase4-orchestrator trigger",
}

(STALL_MINUTES,) = {t.stall_minutes for t in load().gated()}
"""The gate's stall limit: what every drill must be detected within."""


@pytest.fixture(scope="module")
def drills(base_stack: Path, hosts: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Row], Path, float, list[str]]:
    workdir = tmp_path_factory.mktemp("drills")
    lines: list[str] = []
    began = time.monotonic()
    rows = run_drills(DrillOptions(stack=base_stack, workdir=workdir, emulator_hosts=hosts),
                      say=lines.append)
    return rows, workdir, time.monotonic() - began, lines


def test_every_drill_ran_once_in_order(drills) -> None:
    rows, _, seconds, lines = drills
    assert [r.drill for r in rows] == list(ALL_DRILLS), "\n".join(lines)
    # Each drill says when it starts.
    for name in EXPECTED_BY:
        assert any(line.startswith(f"drill {name}: ") and "driving the day" in line
                   for line in lines), name
    print(f"\n{table(rows)}\n(drills: {seconds:.1f}s)")


@pytest.mark.parametrize("name", list(EXPECTED_BY))
def test_each_canary_drill_is_detected_by_what_it_names_in_time(drills, name: str) -> None:
    rows, *_ = drills
    (row,) = [r for r in rows if r.drill == name]
    assert row.ok, table([row])
    assert row.by == EXPECTED_BY[name], table([row])
    assert row.false_alarms == ()
    if row.minutes is not None:
        assert row.limit == STALL_MINUTES and row.minutes <= row.limit


def test_silent_orchestrators_are_loud_within_the_stall_limit(drills) -> None:
    rows, *_ = drills
    for name in ("trigger-invoker", "orchestrator-crash"):
        (row,) = [r for r in rows if r.drill == name]
        assert row.minutes is not None and row.minutes <= STALL_MINUTES, table([row])
        expected = len(load().enabled_processors(3))
        assert f"the orchestrator has not recorded {expected} processor(s)" in row.message
        # Re-enacted as production broke: every trigger delivery was refused.
        refused = "403" if name == "trigger-invoker" else "503"
        assert f"its front answered {refused} x" in row.message, row.message


@pytest.mark.parametrize("name", list(MONITORING))
def test_monitoring_only_classes_are_covered_by_an_alert_policy(drills, name: str) -> None:
    rows, *_ = drills
    (row,) = [r for r in rows if r.drill == name]
    assert row.ok, f"NOT COVERED: {table([row])}"
    assert row.by.startswith("covered by alert polic")
    assert MONITORING[name] in row.by


def test_the_rows_are_written_as_json(drills) -> None:
    rows, workdir, *_ = drills
    written = json.loads((workdir / "drills.json").read_text())
    assert [w["drill"] for w in written] == [r.drill for r in rows]
    assert {"drill", "broken", "detected", "by", "minutes"} <= set(written[0])
    assert all(w["ok"] for w in written)


def test_the_drills_leave_nothing_running(drills) -> None:
    _, workdir, *_ = drills
    assert not list((workdir / "drills").glob("*/state.json"))
