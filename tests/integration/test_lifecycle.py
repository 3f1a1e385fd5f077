"""The CLI as a user runs it: ``up`` (own emulators), ``status``, ``demo``, ``down``.

``up`` was started in the background by the session (see conftest), or by this test when it
runs alone; the test collects it,
drives a day through the CLI, and checks that ``down`` leaves no process behind: every
recorded PID and every member of its process group is gone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local import procs
from tests.integration.conftest import Background, run_cli, start_cli_up

pytestmark = pytest.mark.integration


def test_up_status_demo_down_leaves_no_process_behind(background: Background, base_stack: Path,
                                                       tmp_path: Path) -> None:
    if background.cli_up is None:  # run alone: no other test's fixture started it
        start_cli_up(background, tmp_path / "cli", base_stack)
    assert background.cli_up is not None and background.cli_workdir is not None
    out, err = background.cli_up.communicate(timeout=120)
    assert background.cli_up.returncode == 0, err
    assert err == ""
    lines = out.splitlines()
    assert all(line.startswith("local: ") for line in lines)
    assert lines[-1].startswith("local: up in ")
    workdir = background.cli_workdir
    state = json.loads((workdir / "state.json").read_text())
    assert {"project", "pubsub_emulator_host", "firestore_emulator_host", "topics",
            "subscriptions", "pids", "ports", "stack"} <= set(state)
    assert state["topics"]["phase3-analytics-complete"] == (
        "projects/nba-props-platform-dev/topics/nba-phase3-analytics-complete")
    assert state["topics"]["phase3-analytics-sub-dlq"].endswith("/nba-phase3-analytics-sub-dlq")
    pids = state["pids"]
    assert {"pubsub-emulator", "firestore-emulator", "supervisor",
            "function:phase3-to-phase4-orchestrator", "function:pipeline-canary"} <= set(pids)
    assert all(procs.alive(pid) for pid in pids.values())

    again = run_cli("up", "--stack", str(base_stack), "--workdir", str(workdir))
    assert again.returncode == 1
    assert "already runs" in again.stderr and "down" in again.stderr

    status = run_cli("status", "--workdir", str(workdir))
    assert status.returncode == 0, status.stdout + status.stderr
    demo = run_cli("demo", "--workdir", str(workdir), "--date", "2031-04-01", "--timeout", "30")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "prediction stage reached" in demo.stdout

    stopped = run_cli("down", "--workdir", str(workdir))
    assert stopped.returncode == 0, stopped.stderr
    assert "none left" in stopped.stdout
    for name, pid in pids.items():
        assert not procs.alive(pid), f"{name} (pid {pid}) still runs"
        assert procs.group_members(pid) == [], f"{name}'s process group {pid} still has members"
    assert not (workdir / "state.json").exists()
    assert "nothing to stop" in run_cli("down", "--workdir", str(workdir)).stdout
    status_after = run_cli("status", "--workdir", str(workdir))
    assert status_after.returncode == 1
    assert "not running" in status_after.stderr
