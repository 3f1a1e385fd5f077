"""PushEdge: subscription with OIDC and audience, dead-letter pair, agent grants, invoker."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from tests.synth.constructs.support import INVENTORIES, edge, identity, new_stack, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    edge(stack).grant_dead_letter_read(identity(stack, "nba-fn-canary", "canary"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "push_edge.yaml")


@pytest.mark.parametrize("changes,error", [
    ({"path": "process"}, "path 'process' must start with '/'"),
    ({"max_delivery_attempts": 3}, "max_delivery_attempts 3 outside Pub/Sub's 5..100"),
    ({"max_delivery_attempts": 101}, "max_delivery_attempts 101 outside Pub/Sub's 5..100"),
])
def test_push_edge_validates(changes: dict[str, object], error: str) -> None:
    stack = new_stack("push-edge-invalid")
    with pytest.raises(ValueError, match=error):
        edge(stack, **changes)
