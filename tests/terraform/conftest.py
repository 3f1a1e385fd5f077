"""Shared fixtures for the plan JSON lifecycle tools (drift review, plan summary) and the
Terraform wrapper (``fake``: the fake terraform of ``tests/terraform/fake_terraform.py``).

Helpers that need pytest's machinery (tmp paths, capture) are fixtures here; plain values
the tests share (fixture addresses, the CLI run tuple) are in ``tests/terraform/support.py``.
"""

import copy
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.fake_terraform import CREDENTIAL_VARIABLES, FakeTerraform

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The tests import `infra` from the repo root, whichever directory pytest starts in.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def fixtures_dir() -> Path:
    """tests/terraform/fixtures."""
    return FIXTURES


@pytest.fixture
def repo_root() -> Path:
    """The repository root (where `python -m infra.drift` runs)."""
    return ROOT


@pytest.fixture
def load() -> Callable[[str], dict[str, Any]]:
    """Load a fixture as a fresh deep copy, safe to mutate in a test."""

    def load_fixture(name: str) -> dict[str, Any]:
        return copy.deepcopy(json.loads((FIXTURES / name).read_text()))

    return load_fixture


@pytest.fixture
def find() -> Callable[[dict[str, Any], str, str], dict[str, Any]]:
    """The resource_drift/resource_changes entry with an address; fails loudly if absent."""

    def find_entry(plan: dict[str, Any], key: str, address: str) -> dict[str, Any]:
        for item in plan.get(key) or []:
            if item["address"] == address:
                return item
        present = [item["address"] for item in plan.get(key) or []]
        raise AssertionError(f"{address} not in {key}: {present}")

    return find_entry


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[..., Path]:
    """Write a JSON document (or raw text) to a temporary file and return its path."""

    def write(document: Any, name: str = "plan.json") -> Path:
        path = tmp_path / name
        text = document if isinstance(document, str) else json.dumps(document)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def no_ignores(write_json: Callable[..., Path]) -> Path:
    """An empty ignore file, so tests do not depend on the checked-in one."""
    return write_json({"ignore": []}, "no-ignores.json")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake terraform first on PATH, an empty HOME, and an access token as credentials."""
    fake = FakeTerraform(tmp_path)
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_TF_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_TF_ANSWERS", str(fake.answers))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.test-token")
    return fake
