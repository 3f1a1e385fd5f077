"""Construct helpers: logical ids are Terraform names, pinned once, IAM lifecycle literal."""

from __future__ import annotations

import pytest
from cdktn_provider_google.pubsub_topic import PubsubTopic

from infra.synth.constructs.base import logical_id, pin_address, replaced_with
from tests.synth.constructs.support import new_stack
from tests.synth.tfassert import assert_inventory, synth


def test_a_pinned_address_is_the_synthesized_one() -> None:
    stack = new_stack("base")
    address = pin_address(PubsubTopic(stack, "one", name="one"), "edge-a", "topic")
    assert address == "google_pubsub_topic.edge_a__topic"
    assert_inventory(synth(stack), counts={"google_pubsub_topic": 1},
                     values={address: {"name": "one"}})


def test_an_address_pinned_twice_is_refused() -> None:
    stack = new_stack("base-twice")
    pin_address(PubsubTopic(stack, "one", name="one"), "edge", "topic")
    with pytest.raises(ValueError, match=r"google_pubsub_topic.edge__topic is pinned twice"):
        pin_address(PubsubTopic(stack, "two", name="two"), "edge", "topic")


def test_replace_trigger_names_the_replacement_only_attribute() -> None:
    lifecycle = replaced_with("google_cloud_run_v2_service.x__service")
    assert lifecycle.replace_triggered_by == ["google_cloud_run_v2_service.x__service.uid"]
    with pytest.raises(ValueError, match="no attribute of google_firestore_database is known"):
        replaced_with("google_firestore_database.x__database")


@pytest.mark.parametrize("address", ["${google_cloud_run_v2_service.x.id}", "x"])
def test_replace_trigger_must_be_a_literal_address(address: str) -> None:
    with pytest.raises(ValueError, match="needs a literal resource address"):
        replaced_with(address)


def test_logical_ids_are_terraform_names() -> None:
    assert logical_id("phase3-analytics-sub", "invoker") == "phase3_analytics_sub__invoker"
    with pytest.raises(ValueError, match="not a valid Terraform name"):
        logical_id("fn", "identity_datastore.user")
