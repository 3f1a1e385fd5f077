"""PushEdge: subscription with OIDC and audience, dead-letter pair, agent grants, invoker."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from tests.synth.constructs.support import (
    AGENT,
    INVENTORIES,
    PROJECT,
    identity,
    new_stack,
    service,
    synthesized,
    topic,
)
from tests.synth.tfassert import assert_inventory_file


def edge_props(stack: TerraformStack, **changes: object) -> PushEdgeProps:
    props = dict(name="nba-sub", component="edge", project=PROJECT, topic=topic(stack),
                 target=service(stack), path="/process", identity_account_id="nba-push-sub",
                 pubsub_agent=AGENT, dead_letter_topic="nba-sub-dlq",
                 dead_letter_subscription="nba-sub-dlq-sub") | changes
    return PushEdgeProps(**props)  # type: ignore[arg-type]


def build(stack: TerraformStack) -> None:
    edge = PushEdge(stack, "edge", edge_props(stack))
    edge.grant_dead_letter_read(identity(stack, "nba-fn-canary", "canary"))


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
        PushEdge(stack, "edge", edge_props(stack, **changes))
