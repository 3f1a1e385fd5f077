"""``python -m functions.pipeline_canary.reconcile``: report, --fix, bad arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.pipeline_canary import reconcile
from tests.functions.support import NOW, PHASE3, canary_environ

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(world):
    """Three dates: one clean, one with a stuck count, one triggered but not marked."""
    world.record_completions("2026-02-01", PHASE3, NOW)
    world.record_completions("2026-02-02", PHASE3[:4], NOW)
    world.record_completions("2026-02-03", PHASE3, NOW)
    coll = world.admin.db.collection(world.collection)
    coll.document("2026-02-02").update({"_completed_count": 3, "_missing": PHASE3[3:]})
    coll.document("2026-02-03").update({"_triggered": False})
    world.pull_triggers()
    os.environ.update(canary_environ(world.collection, world.topic))
    return world


@pytest.mark.emulator
def test_report_lists_each_disagreeing_summary(seeded, capsys):
    code = reconcile.run(["--start", "2026-01-31", "--end", "2026-02-03"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("# Completion tracking reconciliation, 2026-01-31 to 2026-02-03")
    rows = [line for line in out.splitlines() if line.startswith("| phase3_to_phase4")]
    assert rows == [
        "| phase3_to_phase4 | 2026-02-02 | `_completed_count` | 3 | 4 |",
        "| phase3_to_phase4 | 2026-02-02 | `_missing` | "
        "upcoming_player_game_context, upcoming_team_game_context "
        "| upcoming_team_game_context |",
        "| phase3_to_phase4 | 2026-02-03 | `_triggered` | False | True |",
    ]
    assert "2 of 4 summaries disagree with their records." in out
    assert seeded.summary("2026-02-02")["_completed_count"] == 3


@pytest.mark.emulator
def test_fix_rewrites_from_records_and_never_publishes(seeded, capsys):
    claim = seeded.doc("2026-02-03/claims/trigger")
    assert reconcile.run(["--start", "2026-02-01", "--end", "2026-02-03", "--fix"]) == 0
    assert "2 of 3 summaries were rewritten from their records." in capsys.readouterr().out

    fixed = seeded.summary("2026-02-02")
    assert (fixed["_completed_count"], fixed["_missing"], fixed["_triggered"]) == (
        4,
        [PHASE3[4]],
        False,
    )
    triggered = seeded.summary("2026-02-03")
    assert triggered["_triggered"] is True
    assert triggered["_trigger_message_id"] == claim["message_id"]
    assert triggered["_triggered_at"] == claim["published_at"]
    assert len(seeded.pull_triggers()) == 2  # the two seeded triggers, nothing new

    assert reconcile.run(["--start", "2026-02-01", "--end", "2026-02-03"]) == 0
    assert "All 3 transition-dates agree" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "2026-02-30", "--end", "2026-03-01"], "'2026-02-30' is not a YYYY-MM-DD"),
        (["--start", "2026-02-03", "--end", "2026-02-01"], "is before --start"),
        (["--end", "2026-02-01"], "the following arguments are required: --start"),
        (["--start", "2025-01-01", "--end", "2026-06-01"], "more than 366 days"),
        (["--start", "2026-02-01", "--end", "2026-02-01", "--bogus"], "unrecognized"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    os.environ.update(canary_environ("c"))
    assert reconcile.run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_missing_configuration_exits_2_naming_the_variable(capsys):
    assert reconcile.run(["--start", "2026-02-01", "--end", "2026-02-01"]) == 2
    assert "GCP_PROJECT is not set" in capsys.readouterr().err


def test_unknown_transition_exits_2(capsys):
    os.environ.update(canary_environ("c"))
    argv = ["--start", "2026-02-01", "--end", "2026-02-01", "--transition", "nope"]
    assert reconcile.run(argv) == 2
    assert "unknown transition ['nope']; known: phase3_to_phase4" in capsys.readouterr().err


def test_module_entry_point_runs():
    env = {**os.environ, **canary_environ("c")}
    result = subprocess.run(
        [sys.executable, "-m", "functions.pipeline_canary.reconcile", "--start", "x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("reconcile: argument --start: 'x' is not a YYYY-MM-DD date")
