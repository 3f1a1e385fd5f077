"""The topology's topics and subscriptions, created in the Pub/Sub emulator by ``up``.

Push endpoints are rewritten to the fronts (``http://127.0.0.1:<front port>/__as/<identity>/…``,
see ``infra.local.front``); topics and subscriptions that emulators reused from an earlier
run still hold under the same names are deleted first, since their endpoints are stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.local.front import as_path
from infra.local.pubsub import PubSub
from infra.local.topology_types import SubscriptionSpec, Topology, seconds

DEFAULT_MIN_BACKOFF = "10s"
DEFAULT_MAX_BACKOFF = "600s"
PARALLEL_CALLS = 8


def _duration(value: str) -> dt.timedelta:
    return dt.timedelta(seconds=seconds(value))


def subscription_request(topology: Topology, sub: SubscriptionSpec,
                         push_endpoint: str | None) -> dict[str, Any]:
    """The ``google.pubsub.v1.Subscription`` creating ``sub``, pushing to ``push_endpoint``.

    A push subscription is created without its dead-letter and retry policies: the
    emulator stalls and never dead-letters when several pushed messages fail under a retry
    policy, so the front applies them (see ``infra.local.front``). A pull subscription
    keeps them: nothing stands between the emulator and its reader.
    """
    request: dict[str, Any] = {
        "name": topology.subscription_path(sub),
        "topic": topology.topic_path(sub.topic),
        "ack_deadline_seconds": sub.ack_deadline_seconds,
    }
    if sub.retention:
        request["message_retention_duration"] = _duration(sub.retention)
    if sub.push is not None and push_endpoint is not None:
        push: dict[str, Any] = {"push_endpoint": push_endpoint}
        if sub.push.identity:
            push["oidc_token"] = {"service_account_email": sub.push.identity}
        request["push_config"] = push
        return request
    if sub.dead_letter_topic is not None:
        request["dead_letter_policy"] = {
            "dead_letter_topic": topology.topic_path(sub.dead_letter_topic),
            "max_delivery_attempts": sub.max_delivery_attempts or 5,
        }
    if sub.minimum_backoff or sub.maximum_backoff:
        request["retry_policy"] = {
            "minimum_backoff": _duration(sub.minimum_backoff or DEFAULT_MIN_BACKOFF),
            "maximum_backoff": _duration(sub.maximum_backoff or DEFAULT_MAX_BACKOFF),
        }
    return request


def push_endpoint(topology: Topology, sub: SubscriptionSpec,
                  front_ports: Mapping[str, int]) -> str | None:
    """Where the emulator pushes ``sub``: its target's front, under the push identity."""
    if sub.push is None:
        return None
    return (f"http://127.0.0.1:{front_ports[sub.push.target]}"
            f"{as_path(sub.push.identity, topology.push_path(sub))}")


def create_topology(pubsub: PubSub, topology: Topology, front_ports: Mapping[str, int]) -> int:
    """Create every topic and subscription of ``topology``; return the subscription count."""
    project = topology.project
    stale_subs = pubsub.subscriptions(project)
    stale_topics = pubsub.topics(project)
    topics = [topology.topic_path(t) for t in topology.topics]
    requests = [subscription_request(topology, s, push_endpoint(topology, s, front_ports))
                for s in topology.subscriptions]
    with ThreadPoolExecutor(max_workers=PARALLEL_CALLS) as pool:
        list(pool.map(pubsub.delete_subscription,
                      [r["name"] for r in requests if r["name"] in stale_subs]))
        list(pool.map(pubsub.delete_topic, [t for t in topics if t in stale_topics]))
        list(pool.map(pubsub.create_topic, topics))
        list(pool.map(pubsub.create_subscription, requests))
    return len(requests)
