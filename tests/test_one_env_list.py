"""One decision is one edit: an environment added to ``infra/model/envs.py``, and nothing
else, is in the Makefile's ``ENVS`` (so ``make synth`` and ``make policy`` cover its stack),
accepted by every ``ENV=`` check, and in both CI matrices with its own planner.

Each test works on a scratch copy of what the Makefile and ``python -m infra.cli`` read (the
Makefile, ``infra/``, ``functions/``), with one environment appended to the model; ``make``
only parses there (``-n``, ``--eval``), so nothing is synthesized or started. The slow half
(``make synth`` and ``make policy`` on such a copy, checkov included) was proven by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.cli import ci_matrix
from infra.model.envs import ENVS
from tests.test_workflows import derived_matrix, load_workflow

ROOT = Path(__file__).resolve().parents[1]
ADDED = "scratch"
ADD_ONE = f'''
from dataclasses import replace as _replace

ENVS = MappingProxyType({{**ENVS, "{ADDED}": _replace(
    ENVS["dev"], name="{ADDED}", ci_planner_variable="GCP_PLAN_SERVICE_ACCOUNT_SCRATCH")}})
'''


def scratch_copy(tmp_path: Path, appended: str) -> Path:
    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", ".build", "*.pyc")
    for folder in ("infra", "functions"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore)
    for file in ("Makefile", "pyproject.toml", "iam/requirements-checkov.txt"):
        (repo / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / file, repo / file)
    envs = repo / "infra" / "model" / "envs.py"
    envs.write_text(envs.read_text() + appended)
    return repo


def make(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``make`` in ``repo`` (no .venv there: the Makefile lists environments with the system
    interpreter, as on a fresh clone)."""
    env = {k: v for k, v in os.environ.items() if k != "ENV" and not k.startswith("MAKE")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture
def added(tmp_path: Path) -> Path:
    return scratch_copy(tmp_path, ADD_ONE)


def test_the_makefile_synthesizes_and_gates_an_added_environment(added: Path) -> None:
    listed = make(added, "--eval", "print-envs: ; @echo $(ENVS)", "print-envs")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["dev", "prod", ADDED]
    gate = make(added, "-n", "policy")
    assert gate.returncode == 0, gate.stderr
    [line] = [line for line in gate.stdout.splitlines() if "-m iam.report" in line]
    assert f"cdktf.out/stacks/pipeline-{ADDED} " in line
    # `make synth` without ENV synthesizes every environment of the model (infra.main).
    assert "-m infra.main" in make(added, "-n", "synth").stdout


def test_env_checks_accept_an_added_environment(added: Path) -> None:
    proc = make(added, "-n", "local-down", f"ENV={ADDED}")
    assert proc.returncode == 0, proc.stderr
    refused = make(added, "-n", "local-down", "ENV=Not-An-Env")
    assert refused.returncode == 2
    assert f"known: dev, prod, {ADDED}" in refused.stderr


@pytest.mark.parametrize(("name", "job_id"), [("pr.yml", "plan"), ("drift.yml", "drift")])
def test_ci_plans_an_added_environment_as_its_own_planner(added: Path, tmp_path: Path,
                                                          name: str, job_id: str) -> None:
    matrix = derived_matrix(load_workflow(name), job_id, repo=added, tmp_path=tmp_path)
    assert matrix["include"][-1] == {"env": ADDED,
                                     "planner_variable": "GCP_PLAN_SERVICE_ACCOUNT_SCRATCH"}
    assert [e["env"] for e in matrix["include"]] == ["dev", "prod", ADDED]


def test_listing_the_environments_needs_the_standard_library_only() -> None:
    """``-S``: no site-packages, as make's system interpreter on a fresh clone."""
    for args, expected in ((["envs"], " ".join(ENVS) + "\n"),
                           (["envs", "--json"], json.dumps(ci_matrix(ENVS)) + "\n")):
        proc = subprocess.run([sys.executable, "-S", "-m", "infra.cli", *args], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=60,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, "")


def test_a_model_that_cannot_load_stops_make_in_one_line(tmp_path: Path) -> None:
    repo = scratch_copy(tmp_path, ADD_ONE.replace(f'name="{ADDED}"', 'name="Scratch"'))
    proc = make(repo, "help")
    assert proc.returncode == 2
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("Makefile:") and line.endswith("Stop."), line
    assert ("*** env: infra/model/envs.py cannot load: envs['Scratch'].name: invalid name "
            "'Scratch'; 2-10 lowercase letters or digits, starting with a letter") in line
