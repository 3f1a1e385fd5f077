"""The import structure: no cycle between any two modules, and the contracts catch a violation.

``make lint`` runs import-linter with the contracts in pyproject.toml (layers, iam beside,
functions independent, no cycle among siblings). This file lists every module-level cycle
(grimp, every import counted, function-level ones included) and shows the contracts failing
on a copy of the packages with one forbidden import added.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("infra", "iam", "functions")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_module_imports_itself_back():
    assert cycles(grimp.build_graph(*PACKAGES, cache_dir=None)) == []


def test_a_cycle_is_listed(tmp_path, monkeypatch):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import c\n")  # inside a function too
    (package / "c.py").write_text("import cyclic.a\n")
    (package / "d.py").write_text("import cyclic.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("cyclic", cache_dir=None)) == [
        ["cyclic.a", "cyclic.b", "cyclic.c"]]


@pytest.fixture(scope="module")
def packages_copy(tmp_path_factory):
    """The three packages and pyproject.toml, copied (Python files only)."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.yaml", "*.md"))
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("infra/model/naming.py", "import infra.synth.app\n", "infra layers"),
    ("infra/stackjson/stack.py", "import iam.policy\n", "nothing in infra imports the policy gate"),
    ("functions/_shared/cli.py", "import infra.paths\n", "functions import neither infra nor iam"),
    ("iam/report.py", "import infra.live.adopt\n", "iam reads the model and stack JSON only"),
    ("functions/pipeline_canary/config.py", "import functions.phase3_to_phase4.config\n",
     "each function is independent"),
], ids=["upward-import", "infra-imports-iam", "function-imports-infra", "iam-reaches-live",
        "function-imports-function"])
def test_the_contracts_refuse_a_forbidden_import(packages_copy, module, line, contract):
    path = packages_copy / module
    original = path.read_text()
    path.write_text(original + line)
    try:
        proc = lint_imports(packages_copy)
    finally:
        path.write_text(original)
    assert proc.returncode != 0
    broken = proc.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, proc.stdout


def test_the_contracts_hold_on_the_unchanged_copy(packages_copy):
    proc = lint_imports(packages_copy)
    assert proc.returncode == 0, proc.stdout
