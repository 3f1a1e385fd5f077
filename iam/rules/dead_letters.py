"""Dead letters: every push subscription forwards what it cannot deliver to a topic that is
read, and the Pub/Sub service agent holds the two roles forwarding needs."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import agent_holds, push_subscriptions
from infra.model.permissions import PUBLISHER, SUBSCRIBER
from infra.stackjson.stack import first

DEAD_LETTER_DOC = "https://cloud.google.com/pubsub/docs/handling-failures"


@rule("DLQ-001", "Push subscriptions dead-letter to a topic that is read",
      see=DEAD_LETTER_DOC, fix="PushEdge creates <sub>-dlq and <sub>-dlq-sub")
def dead_letter(ctx: Context) -> Iterator[Finding]:
    """Without a dead-letter topic a message the target keeps refusing is retried until
    retention ends and then dropped; Pub/Sub also drops what is published to a topic with no
    subscription, so the dead-letter topic needs one."""
    g = ctx.graph
    for sub, _ in push_subscriptions(g):
        policy = first(sub.body.get("dead_letter_policy"))
        if not policy or not policy.get("dead_letter_topic"):
            yield Finding(sub.address, "push subscription has no dead_letter_policy: a message "
                          "the target keeps refusing is retried for 7 days and then lost "
                          "silently; add a dead-letter topic with its own subscription")
            continue
        dlq = g.topic(policy.get("dead_letter_topic"))
        if dlq is None:
            yield Finding(sub.address, "dead_letter_topic "
                          f"{policy.get('dead_letter_topic')!r} is not a topic of this stack; "
                          "reference the edge's dead-letter topic")
            continue
        if dlq == g.topic(sub.body.get("topic")):
            yield Finding(sub.address, "dead_letter_topic is the subscription's own topic: "
                          "dead letters would be redelivered forever; use a separate -dlq "
                          "topic")
            continue
        readers = [s.address for s in g.resources("google_pubsub_subscription")
                   if g.topic(s.body.get("topic")) == dlq]
        if not readers:
            yield Finding(sub.address, f"dead-letter topic {dlq} has no subscription, so "
                          "dead-lettered messages are dropped; add a pull subscription on it")


@rule("DLQ-002", "The Pub/Sub agent may publish to each dead-letter topic",
      see=DEAD_LETTER_DOC, fix="dead_letter_topic.grant_publish(pubsub agent)")
def dead_letter_publisher(ctx: Context) -> Iterator[Finding]:
    """Pub/Sub's service agent forwards undeliverable messages; without roles/pubsub.publisher
    on the dead-letter topic it cannot, and dead-lettering does nothing."""
    g = ctx.graph
    for sub, _ in push_subscriptions(g):
        dlq = g.topic(first(sub.body.get("dead_letter_policy")).get("dead_letter_topic"))
        if dlq is not None and not agent_holds(g, "google_pubsub_topic_iam_member", PUBLISHER,
                                               dlq):
            yield Finding(sub.address, f"the Pub/Sub service agent has no "
                          f"roles/pubsub.publisher on dead-letter topic {dlq}, so "
                          "dead-lettering silently does nothing; grant it with the topic's "
                          "grant_publish(agent)")


@rule("DLQ-003", "The Pub/Sub agent may subscribe to each dead-lettering subscription",
      see=DEAD_LETTER_DOC, fix="google_pubsub_subscription_iam_member for the agent (PushEdge adds it)")
def dead_letter_subscriber(ctx: Context) -> Iterator[Finding]:
    """The service agent acknowledges a forwarded message on the source subscription; without
    roles/pubsub.subscriber there it cannot, and the message is redelivered until retention
    drops it."""
    g = ctx.graph
    for sub, _ in push_subscriptions(g):
        if not first(sub.body.get("dead_letter_policy")):
            continue
        if not agent_holds(g, "google_pubsub_subscription_iam_member", SUBSCRIBER, sub.address):
            yield Finding(sub.address, "the Pub/Sub service agent has no "
                          "roles/pubsub.subscriber on this subscription, so it cannot forward "
                          "undeliverable messages to the dead-letter topic; add a "
                          "google_pubsub_subscription_iam_member for the agent")
