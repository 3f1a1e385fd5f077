"""What the local pipeline reads from the synthesized stack (no emulator needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.front import as_path, split_identity
from infra.local.topology import read_topology
from infra.model.envs import get_env
from infra.model.naming import key_of
from infra.model.pipeline import load
from infra.model.wiring import derive

pytestmark = pytest.mark.integration

EMAIL = "nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com"


def test_topics_by_manifest_key_including_dead_letter_topics(base_stack: Path) -> None:
    topology = read_topology(base_stack, "nba")
    assert topology.topic_path("phase3-analytics-complete") == (
        "projects/nba-props-platform-dev/topics/nba-phase3-analytics-complete")
    # the manifest's topics and each push edge's dead-letter topic, by key
    wiring = derive(load(), get_env("dev"))
    assert set(topology.topics) == {key_of("nba", name) for name in wiring.topics}
    assert "phase2-raw-sub-dlq" in topology.topics


def test_push_subscriptions_keep_their_declared_policies(base_stack: Path) -> None:
    topology = read_topology(base_stack, "nba", project="elsewhere")
    sub = next(s for s in topology.subscriptions if s.name == "nba-phase3-analytics-sub")
    assert sub.push is not None
    assert (sub.topic, sub.push.target, sub.push.path, sub.push.identity) == (
        "phase2-raw-complete", "nba-phase3-analytics-processors", "/process", EMAIL)
    assert (sub.dead_letter_topic, sub.max_delivery_attempts, sub.ack_deadline_seconds) == (
        "phase3-analytics-sub-dlq", 5, 600)
    assert (sub.minimum_backoff, sub.maximum_backoff) == ("10s", "600s")
    assert topology.subscription_path(sub) == "projects/elsewhere/subscriptions/" \
        "nba-phase3-analytics-sub"


def test_a_function_trigger_becomes_a_push_to_the_topic_path(base_stack: Path) -> None:
    topology = read_topology(base_stack, "nba")
    trigger = next(s for s in topology.subscriptions if s.origin == "event_trigger")
    assert trigger.push is not None
    assert trigger.push.target == "phase3-to-phase4-orchestrator"
    assert trigger.push.identity is not None
    assert trigger.push.identity.startswith("nba-trg-orch-p3p4@")
    assert topology.push_path(trigger) == (
        "/projects/nba-props-platform-dev/topics/nba-phase3-analytics-complete")
    assert trigger.dead_letter_topic is None


def test_invokers_resolve_through_function_service_references(base_stack: Path) -> None:
    targets = read_topology(base_stack, "nba").targets
    orchestrator = targets["phase3-to-phase4-orchestrator"]
    assert orchestrator.kind == "function"
    assert orchestrator.allows("nba-trg-orch-p3p4@nba-props-platform-dev.iam.gserviceaccount.com")
    assert not orchestrator.allows(EMAIL)
    assert not orchestrator.allows(None)
    assert targets["nba-phase3-analytics-processors"].allows(EMAIL)
    assert targets["nba-phase1-scrapers"].invokers == ()


def test_identity_travels_in_the_push_path() -> None:
    path = as_path(EMAIL, "/projects/p/topics/t?x=1")
    assert path == f"/__as/{EMAIL}/projects/p/topics/t?x=1"
    assert split_identity(path) == (EMAIL, "/projects/p/topics/t?x=1")
    assert split_identity(as_path(None, "/process")) == (None, "/process")
    assert split_identity("/process") == (None, "/process")
