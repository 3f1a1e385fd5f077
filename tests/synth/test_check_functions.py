"""infra.synth.check_functions: a function that cannot start fails the check with its own error.

The copies below keep only functions-framework in requirements.txt: the orchestrator module
imports no google client at import time, so that is all it needs to start (the positive
case proves it), and the cached venv stays small.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.synth import check_functions
from infra.synth.bundle import SHARED_PACKAGE

REPO = Path(__file__).resolve().parents[2]
NAME = "phase3_to_phase4"


def copy_function(tmp_path: Path, shared: bool = True) -> Path:
    """A ``functions/`` copy holding the function (and, unless not ``shared``, the shared
    package its bundle ships beside it)."""
    functions_dir = tmp_path / "functions"
    shutil.copytree(
        REPO / "functions" / NAME,
        functions_dir / NAME,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "functions" / "__init__.py", functions_dir / "__init__.py")
    if shared:
        shutil.copytree(
            REPO / "functions" / SHARED_PACKAGE,
            functions_dir / SHARED_PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    (functions_dir / NAME / "requirements.txt").write_text("functions-framework==3.10.2\n")
    return functions_dir


def run_check(functions_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.synth.check_functions",
            NAME,
            "--functions-dir",
            str(functions_dir),
            "--bundles-dir",
            str(tmp_path / "bundles"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_broken_import_fails_and_prints_the_functions_stderr(tmp_path):
    functions_dir = copy_function(tmp_path)
    main = functions_dir / NAME / "main.py"
    main.write_text(
        main.read_text().replace(
            "import functions_framework\n",
            "import functions_framework\nimport module_removed_by_a_bad_refactor\n",
            1,
        )
    )
    result = run_check(functions_dir, tmp_path)
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        f"{NAME}: FAILED (handle_phase3_completion, cloudevent): exited with code"
    )
    assert "before listening" in first
    assert "--- phase3_to_phase4 stderr ---" in result.stdout
    assert "No module named 'module_removed_by_a_bad_refactor'" in result.stdout


def test_a_bundle_without_the_shared_package_fails_to_import(tmp_path):
    """The proof runs the zip alone: the repository's ``functions/_shared`` cannot stand in."""
    result = run_check(copy_function(tmp_path, shared=False), tmp_path)
    assert result.returncode == 1
    assert "before listening" in result.stdout.splitlines()[0]
    assert "No module named 'functions._shared'" in result.stdout


def test_a_sound_copy_listens_and_reruns_reuse_the_venv(tmp_path):
    functions_dir = copy_function(tmp_path)
    first = run_check(functions_dir, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith(f"{NAME}: listening after ")
    again = run_check(functions_dir, tmp_path)
    assert again.returncode == 0
    assert again.stdout.rstrip().endswith("cached venv)")


def test_wrong_entry_point_fails_with_the_framework_error(tmp_path, monkeypatch):
    spec = check_functions.FunctionSpec(
        entry_point="no_such_entry_point",
        signature_type="cloudevent",
        env=check_functions.FUNCTIONS[NAME].env,
    )
    result = check_functions.check_function(
        NAME, spec, copy_function(tmp_path), tmp_path / "bundles"
    )
    assert not result.ok
    assert "exited with code" in result.line
    assert "no_such_entry_point" in result.detail


def test_unknown_function_name_exits_2(capsys):
    assert check_functions.main(["nope"]) == 2
    assert "unknown function(s) ['nope']; known: phase3_to_phase4, pipeline_canary" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("name", sorted(check_functions.FUNCTIONS))
def test_every_function_folder_has_its_entry_point(name):
    source = (REPO / "functions" / name / "main.py").read_text()
    assert f"def {check_functions.FUNCTIONS[name].entry_point}(" in source
    assert (REPO / "functions" / name / "requirements.txt").is_file()


def test_checks_side_by_side_with_the_same_requirements_build_one_venv(tmp_path):
    """Two functions checked at once with identical requirements: one builds the venv (with
    the running interpreter's pip, none of its own), the other waits and reuses it."""
    from concurrent.futures import ThreadPoolExecutor

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install: the venv itself is what is shared\n")
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(lambda _: check_functions.venv_for(requirements, tmp_path / "v"),
                              range(2)))
    assert built[0][0] == built[1][0]
    assert sorted(reused for _, reused in built) == [False, True]
    venv = built[0][0]
    assert (venv / "bin" / "python").exists() and (venv / ".ready").is_file()
    assert not (venv / "bin" / "pip").exists()
