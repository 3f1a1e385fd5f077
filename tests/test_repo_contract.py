"""The README's two commands are the ones CI and the Makefile run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## The two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_shows_setup_and_test_commands() -> None:
    assert readme_commands() == ["make synth", "make test"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == readme_commands()[1]


def test_every_documented_make_target_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    documented = set(re.findall(r"`make ([a-z][a-z-]*)", (ROOT / "README.md").read_text()))
    assert documented <= targets, f"README names targets the Makefile lacks: {documented - targets}"
    assert {"help", "setup", "synth", "test", "lint"} <= targets


NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}


def test_operating_the_stacks_counts_the_commands_its_table_lists() -> None:
    section = (ROOT / "README.md").read_text().split("## Operating the stacks", 1)[1]
    said = re.match(r"\s*(\w+) commands\b", section)
    assert said, "the section opens with how many commands it lists"
    table = section.split("\n| command |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `make ")]
    assert NUMBERS[said.group(1).lower()] == len(rows), (said.group(1), rows)
