"""How ``up`` asks the emulator for each subscription (``infra.local.pubsub_topology``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from google.pubsub_v1 import Subscription

from infra.local.pubsub_topology import push_endpoint, subscription_request
from infra.local.topology import read_topology
from infra.local.topology_types import Topology
from infra.model.envs import get_env
from infra.paths import stack_file

ENV = get_env("dev")
FRONTS = {"nba-phase3-analytics-processors": 20001, "phase3-to-phase4-orchestrator": 20002}


@pytest.fixture(scope="module")
def topology(synth_dir: Path) -> Topology:
    return read_topology(stack_file("dev", synth_dir), ENV.sport, "local-test")


def test_a_push_subscription_pushes_to_the_front_without_its_policies(topology: Topology) -> None:
    sub = next(s for s in topology.subscriptions if s.name == "nba-phase3-analytics-sub")
    request = subscription_request(topology, sub, push_endpoint(topology, sub, FRONTS))
    assert request["name"] == "projects/local-test/subscriptions/nba-phase3-analytics-sub"
    assert request["push_config"] == {
        "push_endpoint": "http://127.0.0.1:20001/__as/nba-push-phase2-to-phase3@"
                         "nba-props-platform-dev.iam.gserviceaccount.com/process",
        "oidc_token": {"service_account_email": "nba-push-phase2-to-phase3@"
                                                "nba-props-platform-dev.iam.gserviceaccount.com"}}
    # the front applies these (the emulator stalls on them)
    assert "dead_letter_policy" not in request and "retry_policy" not in request
    Subscription(request)  # the client library takes it as it is


def test_a_function_trigger_pushes_the_topic_path(topology: Topology) -> None:
    trigger = next(s for s in topology.subscriptions if s.origin == "event_trigger")
    endpoint = push_endpoint(topology, trigger, FRONTS)
    assert endpoint is not None
    assert endpoint.startswith("http://127.0.0.1:20002/__as/nba-trg-orch-p3p4@")
    assert endpoint.endswith("/projects/local-test/topics/nba-phase3-analytics-complete")


def test_a_pull_subscription_keeps_its_dead_letter_and_retry_policies(topology: Topology) -> None:
    pulled = [s for s in topology.subscriptions if s.push is None]
    assert pulled, "the dev stack declares pull subscriptions (dead-letter queues)"
    for sub in pulled:
        request = subscription_request(topology, sub, push_endpoint(topology, sub, FRONTS))
        assert "push_config" not in request
        Subscription(request)
        if sub.dead_letter_topic is not None:
            assert request["dead_letter_policy"]["dead_letter_topic"] == topology.topic_path(
                sub.dead_letter_topic)
        if sub.minimum_backoff is not None:
            assert request["retry_policy"]["minimum_backoff"] == dt.timedelta(
                seconds=float(sub.minimum_backoff.removesuffix("s")))
        if sub.retention is not None:
            assert isinstance(request["message_retention_duration"], dt.timedelta)
