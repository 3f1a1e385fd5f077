"""Subscriptions and topics: nothing expires, refused pushes back off, every topic is read."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import push_subscriptions
from infra.stackjson.stack import first


@rule("SUB-001", "Subscriptions never expire",
      see=PROVIDER_DOCS + "resources/pubsub_subscription",
      fix="expiration_policy { ttl = \"\" } (PushEdge sets it)")
def subscription_expiry(ctx: Context) -> Iterator[Finding]:
    """When expiration_policy is not set Pub/Sub deletes a subscription after 31 days without
    activity; only ttl = "" means never. Dead-letter subscriptions are idle by design and
    seasonal triggers idle for months."""
    g = ctx.graph
    for sub in g.resources("google_pubsub_subscription"):
        policy = sub.body.get("expiration_policy")
        ttl = first(policy).get("ttl") if policy is not None else None
        if ttl != "":
            shown = "omitted (Pub/Sub's default: 31 days)" if ttl is None else repr(ttl)
            yield Finding(sub.address, f"expiration_policy.ttl is {shown}: Pub/Sub deletes a "
                          "subscription idle that long, silently cutting the edge (dead-letter "
                          "subscriptions are idle by design, triggers idle in the off-season); "
                          "set expiration_policy { ttl = \"\" } (never expire)")


@rule("SUB-002", "Push subscriptions back off between redeliveries",
      see="https://cloud.google.com/pubsub/docs/subscription-retry-policy",
      fix="retry_policy { minimum_backoff = \"10s\", maximum_backoff = \"600s\" }")
def push_backoff(ctx: Context) -> Iterator[Finding]:
    """By default Pub/Sub redelivers a refused message immediately, so a failing target is
    hammered and its dead-letter attempts are spent in seconds; an exponential-backoff
    retry_policy spreads them over minutes, which lets a transient failure heal."""
    for sub, _ in push_subscriptions(ctx.graph):
        policy = sub.body.get("retry_policy")
        if policy is None or not first(policy):
            yield Finding(sub.address, "push subscription has no retry_policy, so Pub/Sub "
                          "redelivers a refused message at once, again and again: a failing "
                          "target is hammered and its dead-letter attempts burn in seconds; "
                          "set retry_policy { minimum_backoff, maximum_backoff } (the push "
                          "edge's construct does)")
            continue
        if not first(policy).get("minimum_backoff"):
            yield Finding(sub.address, "retry_policy has no minimum_backoff; set it (10s in "
                          "the push edge's construct) so redeliveries back off")


@rule("TOPIC-001", "Every topic has a consumer",
      see="https://cloud.google.com/pubsub/docs/subscription-overview",
      fix="add the transition or trigger that consumes it, or remove the topic")
def topic_consumers(ctx: Context) -> Iterator[Finding]:
    """Pub/Sub keeps a message only for the subscriptions that exist when it is published:
    whatever is published to a topic without a subscription or event trigger is lost."""
    g = ctx.graph
    consumed: set[str] = set()
    for s in g.resources("google_pubsub_subscription"):
        consumed.add(g.topic(s.body.get("topic")) or "")
    for fn in g.resources("google_cloudfunctions2_function"):
        consumed.add(g.topic(first(fn.body.get("event_trigger")).get("pubsub_topic")) or "")
    for fn in g.resources("google_cloudfunctions_function"):
        consumed.add(g.topic(first(fn.body.get("event_trigger")).get("resource")) or "")
    for trig in g.resources("google_eventarc_trigger"):
        pubsub = first(first(trig.body.get("transport")).get("pubsub"))
        consumed.add(g.topic(pubsub.get("topic")) or "")
    for topic in g.resources("google_pubsub_topic"):
        if topic.address not in consumed:
            yield Finding(topic.address, f"topic {g.cloud_name(topic)!r} has no subscription "
                          "or event trigger: whatever is published there is lost (like the "
                          "removed nba-phase3-trigger); add its consumer or remove the topic")
