"""Fixtures the construct tests share."""

from __future__ import annotations

import pytest

from infra.synth.bundle import Bundle, build_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A one-file function bundle (module scope: built once per test file)."""
    src = tmp_path_factory.mktemp("fn")
    (src / "main.py").write_text("def handler(event):\n    return None\n")
    return build_bundle("fn", tmp_path_factory.mktemp("out"), src)
