"""Every dotted module name the prose mentions resolves, so a move can't leave a stale one.

Prose is the docstrings and comments of every Python file, the Markdown docs, the Makefile
and the workflows. A name such as ``infra.model.adoption_file.load_record`` resolves when its
longest prefix that is a module of the repository exists and every later part is defined in
that module (a top-level definition, assignment or import, then a class member), read with
``ast`` without importing anything. Google's own dotted names (API hosts, IAM types and
permissions such as ``iam.serviceAccounts.getAccessToken``) are not modules and are skipped.
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("infra", "iam", "functions", "tests", "bench")
DOTTED = re.compile(r"(?<![\w/.@<-])(?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+(?![\w<])")
# Google's names that start like a package of ours: API hosts, IAM resource types, roles and
# permissions (``iam.serviceAccounts.actAs``, ``iam.googleapis.com``).
GOOGLE = re.compile(r"^iam\.(?:googleapis|serviceAccount\w*|projects|roles|workloadIdentityPools)\b")
FILE_SUFFIXES = (".py", ".md", ".json", ".yml", ".yaml", ".txt", ".zip", ".toml", ".tf")
SKIPPED_DIRS = {".venv", ".venv-checkov", ".local", ".build", "cdktf.out", "node_modules", ".git"}


def prose_files() -> Iterator[Path]:
    for top in (*PACKAGES, "docs", ".github"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in (".py", ".md", ".yml") and not SKIPPED_DIRS & set(path.parts):
                yield path
    yield ROOT / "README.md"
    yield ROOT / "Makefile"


def python_prose(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every docstring and comment."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = node.body[0] if node.body else None
            if (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                    and isinstance(doc.value.value, str)):
                for offset, line in enumerate(doc.value.value.splitlines()):
                    yield doc.lineno + offset, line
        # attribute docstrings: a string expression right after an assignment
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for before, after in itertools.pairwise(body):
            if (isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                for offset, line in enumerate(after.value.value.splitlines()):
                    yield after.lineno + offset, line
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def prose(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text()
    if path.suffix == ".py":
        yield from python_prose(text)
    else:
        yield from enumerate(text.splitlines(), 1)


def module_file(parts: list[str]) -> Path | None:
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defined(node: ast.AST) -> dict[str, ast.AST | None]:
    names: dict[str, ast.AST | None] = {}
    for child in getattr(node, "body", []):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[child.name] = child
        elif isinstance(child, ast.Assign):
            names.update({t.id: None for t in child.targets if isinstance(t, ast.Name)})
        elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
            names[child.target.id] = None
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            names.update({(a.asname or a.name).split(".")[0]: None for a in child.names})
    return names


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


@cache
def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        found = module_file(parts[:cut])
        if found is None:
            continue
        node: ast.AST | None = parsed(found)
        for attr in parts[cut:]:
            if node is None:  # an attribute of a value: not followed further
                return True
            names = defined(node)
            if attr not in names:
                return False
            node = names[attr]
        return True
    return False


def stale_names(paths: list[Path]) -> list[str]:
    stale = []
    for path in paths:
        for line_no, line in prose(path):
            for match in DOTTED.finditer(line):
                name = match.group(0)
                if name.endswith(FILE_SUFFIXES) or GOOGLE.match(name):
                    continue
                if not resolves(name):
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    stale.append(f"{where}:{line_no}: {name}")
    return stale


def test_every_dotted_module_name_in_the_prose_resolves():
    assert stale_names(list(prose_files())) == []


@pytest.mark.parametrize("text", [
    '"""Reads stacks with ``infra.tfjson.StackJson``."""\n',       # a module that moved away
    "# see infra.model.manifest.NoSuchThing\n",                    # a name the module lacks
    '"""``infra.model.manifest.Manifest.no_such_method``."""\n',  # a member the class lacks
], ids=["moved-module", "missing-name", "missing-member"])
def test_a_stale_name_is_found(tmp_path, text):
    path = tmp_path / "example.py"
    path.write_text(text)
    assert stale_names([path]) != []


def test_real_names_and_google_names_pass(tmp_path):
    path = tmp_path / "example.md"
    path.write_text("`infra.model.manifest.Manifest.validate`, `python -m infra.tf plan`,\n"
                    "`roles/iam.serviceAccountUser`, iam.serviceAccounts.actAs, iam.googleapis.com\n")
    assert stale_names([path]) == []
