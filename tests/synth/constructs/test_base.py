"""Construct helpers: logical ids are Terraform names, pinned once, IAM lifecycle literal; the
bookkeeping that spares jsii round trips gives the JSON reading the tokens would."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cdktn_provider_google.cloudfunctions2_function import Cloudfunctions2Function
from cdktn_provider_google.pubsub_topic import PubsubTopic
from cdktn_provider_google.service_account import ServiceAccount

from infra.synth.constructs.base import (
    StackConstruct,
    add_depends_on,
    batched_depends_on,
    index_of,
    logical_id,
    pin_address,
    ref,
    replaced_with,
    resource_type,
    stack_of,
)
from infra.synth.constructs.propagation import TimeSleep
from tests.synth.constructs.support import new_stack
from tests.synth.tfassert import assert_inventory, synth

SYNTH = Path(__file__).resolve().parents[3] / "infra" / "synth"


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


def test_a_reference_is_written_as_the_token_renders() -> None:
    """``ref`` stands for reading an attribute's token: both synthesize to the same string."""
    stack = new_stack("base-ref")
    account = ServiceAccount(stack, "sa", account_id="nba-x")
    fn = Cloudfunctions2Function(stack, "fn", name="f", location="us-west2")
    sa, f = pin_address(account, "x", "identity"), pin_address(fn, "f", "function")
    pairs = {"email": (account.email, ref(sa, "email")), "name": (account.name, ref(sa, "name")),
             "uri": (fn.service_config.uri, ref(f, "service_config[0].uri")),
             "service": (fn.service_config.service, ref(f, "service_config[0].service"))}
    for key, (token, literal) in pairs.items():
        PubsubTopic(stack, f"token-{key}", name=token)
        PubsubTopic(stack, f"literal-{key}", name=literal)
    topics = synth(stack)["resource"]["google_pubsub_topic"]
    for key in pairs:
        assert topics[f"token-{key}"]["name"] == topics[f"literal-{key}"]["name"], key


def test_the_resource_type_is_the_nodes_own() -> None:
    stack = new_stack("base-types")
    topic = PubsubTopic(stack, "t", name="t")
    sleep = TimeSleep(stack, "s")
    assert resource_type(topic) == topic.terraform_resource_type == "google_pubsub_topic"
    assert resource_type(sleep) == sleep.terraform_resource_type == "time_sleep"


def test_a_stack_construct_knows_its_stack_and_is_indexed() -> None:
    stack = new_stack("base-stack")
    outer = StackConstruct(stack, "outer")
    inner = StackConstruct(outer, "inner")
    assert outer.stack is stack and inner.stack is stack and stack_of(inner) is stack
    assert index_of(stack).constructs == [outer, inner]
    address = inner.pin(PubsubTopic(inner, "t", name="t"), "c", "topic", member="m")
    assert index_of(stack).resources[address].terraform_resource_type == "google_pubsub_topic"


def test_depends_on_merges_and_a_batch_writes_once() -> None:
    stack = new_stack("base-depends")
    topic = PubsubTopic(stack, "t", name="t")
    pin_address(topic, "t", "topic")
    add_depends_on(topic, ["b"])
    add_depends_on(topic, ["a", "b"])
    assert topic.depends_on == ["a", "b"]
    with batched_depends_on():
        add_depends_on(topic, ["c"])
        assert topic.depends_on == ["a", "b"], "written when the batch ends"
    assert topic.depends_on == ["a", "b", "c"]
    unpinned = PubsubTopic(stack, "u", name="u", depends_on=[topic])
    add_depends_on(unpinned, ["x"])  # not pinned: what it has is read first
    assert set(synth(stack)["resource"]["google_pubsub_topic"]["u"]["depends_on"]) == {
        "google_pubsub_topic.t__topic", "x"}


def _depends_on_writes() -> list[str]:
    """Places under infra/synth that set ``depends_on`` other than through base.py's helpers."""
    found = []
    for path in sorted(SYNTH.rglob("*.py")):
        if path.name == "base.py" and path.parent.name == "constructs":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
            found += [f"{path.name}:{node.lineno} assigns .depends_on" for t in targets
                      if isinstance(t, ast.Attribute) and t.attr == "depends_on"]
            if isinstance(node, ast.Call):
                found += [f"{path.name}:{node.lineno} passes depends_on=" for k in node.keywords
                          if k.arg == "depends_on"]
    return found


def test_every_depends_on_is_written_through_the_helpers() -> None:
    """``add_depends_on`` knows each pinned resource's ``depends_on`` without reading it: a
    write that bypasses it (or a constructor given one) would be silently overwritten."""
    assert _depends_on_writes() == []
