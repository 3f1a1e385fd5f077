"""``python -m infra.function_config``: the generated environment, printed or handed to a command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.model.function_config import main


def test_prints_the_generated_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "prod", "--function", "phase3-to-phase4-orchestrator"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["GCP_PROJECT"] == "nba-props-platform"
    assert lines["TRIGGER_TOPIC"] == "nba-phase4-trigger"
    assert len(json.loads(lines["EXPECTED_PROCESSORS"])) == 5


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
