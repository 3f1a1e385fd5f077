"""PullSubscription: a reader's own subscription that never expires, subscriber grants on it only."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.pull_subscription import PullSubscription, PullSubscriptionProps
from tests.synth.constructs.support import (
    INVENTORIES,
    PROJECT,
    identity,
    new_stack,
    synthesized,
    topic,
)
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    sub = PullSubscription(stack, "feed", PullSubscriptionProps(
        "nba-phase3-to-phase4-canary-sub", "phase3-to-phase4-canary", PROJECT,
        topic(stack, "phase3-analytics-complete")))
    grant = sub.grant_subscribe(identity(stack, "nba-fn-canary", "canary"))
    assert (grant.role, grant.target.name, grant.address) == (
        "roles/pubsub.subscriber", "nba-phase3-to-phase4-canary-sub",
        "google_pubsub_subscription_iam_member.phase3_to_phase4_canary__subscriber_canary_identity")


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "pull_subscription.yaml")


def test_nothing_pushes_and_nothing_dead_letters(doc: dict[str, Any]) -> None:
    body = doc["resource"]["google_pubsub_subscription"]["phase3_to_phase4_canary__subscription"]
    assert not {"push_config", "dead_letter_policy", "retry_policy"} & set(body)


def test_an_ack_deadline_pubsub_refuses_names_the_subscription() -> None:
    stack = new_stack("bad")
    with pytest.raises(ValueError, match=r"pull subscription nba-x: ack_deadline_seconds 5 "
                                         r"outside Pub/Sub's 10\.\.600"):
        PullSubscription(stack, "x", PullSubscriptionProps("nba-x", "x", PROJECT,
                                                           topic(stack), ack_deadline_seconds=5))
