"""``python -m infra.function_config``: the generated environment, printed or handed to a command."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from infra.function_config import main
from infra.model.components import ScheduledJob
from infra.model.envs import get_env
from infra.model.function_config import (
    MIN_SILENT_MINUTES,
    check_interval_minutes,
    function_env,
    silent_minutes,
)
from infra.model.pipeline import load


def test_prints_the_generated_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "prod", "--function", "phase3-to-phase4-orchestrator"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["GCP_PROJECT"] == "nba-props-platform"
    assert lines["TRIGGER_TOPIC"] == "nba-phase4-trigger"
    assert json.loads(lines["EXPECTED_PROCESSORS"]) == list(load().enabled_processors(3))


def test_unknown_function_is_one_line_naming_the_declared_ones(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--function", "ghost"]) == 2
    err = capsys.readouterr().err
    assert "unknown function 'ghost'" in err and "pipeline-canary" in err


def test_runs_a_command_with_the_environment() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "infra.function_config", "--function", "pipeline-canary", "--",
         sys.executable, "-c", "import os; print(os.environ['CANARY_TIMEZONE'])"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert proc.stdout.strip() == "America/New_York"


def test_the_canary_reads_its_own_subscription_and_reports_within_the_stall_limit() -> None:
    manifest = load()
    canary = manifest.function("pipeline-canary")
    env = function_env(manifest, get_env("prod"), canary)
    (gate,) = json.loads(env["GATED_TRANSITIONS"])
    assert gate["announcements"] == "nba-phase3-to-phase4-canary-sub"
    # The canary runs every `interval` minutes (its job's schedule): an announcement unrecorded
    # for the stall limit less one interval is reported by the run after it, so at most the
    # stall limit after the announcement.
    interval = check_interval_minutes(manifest, canary)
    assert 0 < interval < gate["stall_minutes"]
    assert gate["silent_minutes"] == silent_minutes(gate["stall_minutes"], interval)
    assert gate["silent_minutes"] + interval <= gate["stall_minutes"]
    assert env["COMPLETION_TTL_DAYS"] == str(manifest.completion_ttl_days)


@pytest.mark.parametrize(("schedule", "interval"), [
    ("*/15 * * * *", 15), ("*/5 * * * *", 5), ("0 * * * *", 60), ("0,10 * * * *", 50),
    # Friday 17:00 to Monday 09:00, an hour longer on the weekend the clocks fall back
    ("0 9-17 * * 1-5", 65 * 60),
])
def test_check_interval_is_the_longest_gap_between_runs(schedule: str, interval: int) -> None:
    manifest = load()
    jobs = tuple(ScheduledJob("pipeline-canary", schedule, "pipeline-canary", short="canary-job",
                              http_method="GET") if j.target == "pipeline-canary" else j
                 for j in manifest.jobs)
    # Not validated: most of these run less often than the stall limit, which load refuses
    # (tests/model/test_limits.py); the interval is computed all the same.
    changed = replace(manifest, jobs=jobs)
    assert check_interval_minutes(changed, changed.function("pipeline-canary")) == interval


@pytest.mark.parametrize(("stall", "interval", "silent"), [
    (30, 15, 15), (30, 0, 30), (30, 28, MIN_SILENT_MINUTES), (10, 60, MIN_SILENT_MINUTES),
    (5, 15, 5)])
def test_silent_minutes_leave_one_canary_interval_inside_the_stall_limit(
        stall: int, interval: int, silent: int) -> None:
    assert silent_minutes(stall, interval) == silent
