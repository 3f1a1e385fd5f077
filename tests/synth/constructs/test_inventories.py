"""Every inventory file (``inventories/<construct>.yaml``) is the one its construct's tests read."""

from __future__ import annotations

import pytest
import yaml

from tests.synth.constructs.support import INVENTORIES


@pytest.mark.parametrize("path", sorted(INVENTORIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_inventory_is_asserted_by_its_constructs_tests(path) -> None:
    tests = INVENTORIES.with_name(f"test_{path.stem}.py")
    assert f'INVENTORIES / "{path.stem}.yaml"' in tests.read_text(), f"{path.name}: no test reads it"
    assert {"counts", "values"} <= set(yaml.safe_load(path.read_text())), path.name
